"""The work queue between informer handlers and a controller's workers, with client-go's rules:

- a key is queued once however often it is added (dedup);
- a key being processed is never handed to a second worker; if it is added meanwhile it is
  processed again after `done` (so no change is lost);
- `add_rate_limited` requeues with a per-key exponential backoff (5 ms doubling to 1000 s, as
  client-go's default), `forget` resets it after a success;
- `add_after` requeues after a delay (a deadline to check, a Pending pod to retry);
- `cool_down(key, seconds)` holds the next pass of a key back for a while: a controller whose
  pass over a large object is expensive (a 1,000-pod ReplicaSet) lets the changes of that while
  pile up into one pass instead of spending the whole CPU on passes that see one change each.

Delays run on the queue's `Clock` (client/clock.py), so tests move time by hand.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable

from .clock import SYSTEM, Clock, Timer


class WorkQueue:
    def __init__(self, name: str = "", *, base_delay: float = 0.005, max_delay: float = 1000.0,
                 clock: Clock = SYSTEM) -> None:
        self.name = name
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, tuple[float, Timer]] = {}  # key -> (when, timer)
        self._cool_until: dict[Hashable, float] = {}
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()  # workers in get()
        self._shutdown = False
        self.adds = 0

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown or key in self._dirty:
            return
        until = self._cool_until.get(key)
        if until is not None:
            left = until - self.clock.monotonic()
            if left > 0:
                self.add_after(key, left)
                return
            del self._cool_until[key]
        self.adds += 1
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._notify()

    def _notify(self) -> None:
        """Wake one worker waiting in get() (no task per add: adds are frequent, waits rare)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        if self._shutdown:
            return
        when = self.clock.monotonic() + delay
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return  # an earlier wake-up is already set
            pending[1].cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self._cool_until.pop(key, None)
            self.add(key)
        self._timers[key] = (when, self.clock.call_later(delay, fire))

    def waiting(self, key: Hashable) -> float | None:
        """Seconds until `key` is queued again by a delay or a backoff (None: no timer)."""
        pending = self._timers.get(key)
        return None if pending is None else max(0.0, pending[0] - self.clock.monotonic())

    def backoff(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        return float(min(self.base_delay * (2 ** failures), self.max_delay))

    def add_rate_limited(self, key: Hashable, at_least: float = 0.0) -> float:
        """Requeue after the key's backoff (or `at_least`, a server's Retry-After, if longer)."""
        delay = max(self.backoff(key), at_least)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.add_after(key, delay)
        return delay

    def cool_down(self, key: Hashable, seconds: float) -> None:
        if seconds > 0:
            self._cool_until[key] = self.clock.monotonic() + seconds

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable:
        while not self._queue:
            if self._shutdown:
                raise asyncio.CancelledError
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and self._queue:
                    self._notify()  # woken and cancelled at once: pass the wake-up on
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def get_nowait(self) -> Hashable | None:
        """The next key if one is ready (tests drive controllers with it, without workers)."""
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutdown = True
        while self._waiters:  # workers waiting in get() end
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.cancel()
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
