"""A clock that moves only when a test says so, for unit tests of the control loops.

`advance(seconds)` moves wall and monotonic time together and runs, in order, every timer that
came due (work-queue delays and backoffs, scheduler backoffs) and wakes every `sleep` that ended.
Nothing waits for real time, so a five-minute expectation timeout takes no time to test.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class _Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0
        self._timers: list[tuple[float, int, _Timer, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.sleeps: list[float] = []  # every sleep asked for, in order

    def now(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer()
        heapq.heappush(self._timers, (self._mono + max(0.0, delay), next(self._seq), timer, callback))
        return timer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.call_later(seconds, lambda: done.done() or done.set_result(None))
        await done

    def pending(self) -> list[float]:
        """Seconds from now of each live timer, soonest first."""
        return sorted(when - self._mono for when, _, t, _ in self._timers if not t.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing what came due in order, and let woken tasks run."""
        target = self._mono + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer, callback = heapq.heappop(self._timers)
            self._wall += when - self._mono
            self._mono = when
            if not timer.cancelled:
                callback()
                for _ in range(3):
                    await asyncio.sleep(0)
        self._wall += target - self._mono
        self._mono = target
        for _ in range(3):
            await asyncio.sleep(0)
