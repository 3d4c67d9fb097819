"""Watch fan-out: one store watch per resource, each event decoded and encoded once for everyone.

watch.py (the HTTP side of `?watch=true`) registers a `Watcher` per request with the app's
`WatchHub`.  The shape is kube-apiserver's watch cache (storage/cacher): a `Broadcaster` per
resource holds the only store watch of that resource and a bounded ring of its recent events,
so a watch that resumes from a recent resourceVersion is served from memory; an older one first
replays the store's history on a private store watch and joins the broadcaster when the ring
overlaps it.  Every watcher filters (namespace, selectors) the shared events (watchevent.py) and
queues the shared bytes; a flush pass hands each watcher's queue to its transport in one write, so
no task wakes per event per watcher, and passes are spaced by the time the last one took, so a
busy server writes several events per chunk.

A watcher that falls behind is cut, never everyone: its queue is bounded by count and bytes, and
a write blocked by a client that stopped reading has a time budget.  A cut watcher's stream is
closed (the client re-watches from its last resourceVersion, or relists after a 410), and the
cut is counted in `apiserver_terminated_watchers_total` and logged with who, why and where.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api import errors as E
from ..store.base import Store
from .metrics import TERMINATED_WATCHERS, WATCH_EVENTS
from .watchevent import CachedEvent, Encoder

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.apiserver.watch")


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int = 10_000  # events queued for one watcher before it is cut
    max_bytes: int = 16 << 20  # ... or bytes
    write_budget: float = 10.0  # seconds a watcher may stay unable to write while events wait for it
    ring_events: int = 4096  # recent events a broadcaster keeps for watches that resume
    ring_bytes: int = 32 << 20  # ... at most this much memory (raw values, decoded objects, encodings)
    write_high: int = 256 << 10  # bytes a transport may hold unsent before a watcher waits for it
    check_interval: float = 0.05  # how often writers that wait for their transport are looked at
    # Flush passes are spaced by twice the time the last one took, at most this: one watcher gets an
    # event at once, hundreds get the events of a few milliseconds in one chunk each (fewer writes for
    # the server and its clients, and the loop stays free for requests).
    flush_interval: float = 0.02


class Watcher:
    """One watch stream: filters shared events, queues their bytes, writes them when it can."""

    def __init__(self, hub: WatchHub, *, resource: str, key_prefix: str, match: Callable[[Obj], bool] | None,
                 encoder: Encoder, transport: asyncio.Transport, who: str, limits: Limits) -> None:
        self.hub = hub
        self.resource = resource
        self.key_prefix = key_prefix
        self.match = match
        self.encoder = encoder
        self.transport = transport
        self.who = who
        self.limits = limits
        self.last_revision = 0  # every event up to here was offered (delivered or filtered out)
        self.pending: collections.deque[bytes] = collections.deque()
        self.pending_bytes = 0
        self.blocked_since: float | None = None
        self.done: asyncio.Future[str] = hub.loop.create_future()
        self.cut_reason = ""
        self._writable: asyncio.Future[None] | None = None
        self._sent_counter = WATCH_EVENTS.labels(resource)
        self._unsent_events = 0  # events queued since the last flush, for the events counter

    # --- called by the broadcaster (or this watch's catch-up), synchronously -------------------

    def offer(self, ce: CachedEvent) -> None:
        if ce.revision <= self.last_revision or self.done.done():
            return
        self.last_revision = ce.revision
        if not ce.key.startswith(self.key_prefix):
            return
        out = ce.translate(self.match)
        if out is not None:
            self.push(ce.encoded(out[0], out[1], self.encoder))

    def push(self, data: bytes) -> None:
        if self.done.done():
            return
        limits = self.limits
        if len(self.pending) >= limits.max_events or self.pending_bytes + len(data) > limits.max_bytes:
            self.cut(f"fell behind: {len(self.pending)} events ({self.pending_bytes} bytes) not yet written")
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        self._unsent_events += 1
        self.hub.mark_dirty(self)

    # --- writing -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand queued bytes to the transport, up to `write_high` unsent in it; never blocks."""
        if self.done.done():
            return
        transport = self.transport
        if transport.is_closing():
            self.finish("the client closed the connection")
            return
        high = self.limits.write_high
        while self.pending:
            if transport.get_write_buffer_size() >= high:
                if self.blocked_since is None:
                    self.blocked_since = time.monotonic()
                    self.hub.blocked.add(self)
                return
            batch: list[bytes] = []
            size = 0
            while self.pending and size < high:
                data = self.pending.popleft()
                batch.append(data)
                size += len(data)
            self.pending_bytes -= size
            self._write(batch, size)
        if self._unsent_events:
            self._sent_counter.inc(self._unsent_events)
            self._unsent_events = 0
        if self.blocked_since is not None:
            self.blocked_since = None
            self.hub.blocked.discard(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def flush_remaining(self) -> None:
        """At the end of a stream that was not cut: whatever is queued goes to the transport."""
        if self.pending and not self.transport.is_closing():
            self._write(list(self.pending), self.pending_bytes)
        self.pending.clear()
        self.pending_bytes = 0

    def _write(self, batch: list[bytes], size: int) -> None:
        self.transport.write(b"%x\r\n%b\r\n" % (size, b"".join(batch)))  # one HTTP/1.1 chunk

    async def wait_writable(self) -> None:
        """Backpressure for the phases that read ahead (initial list, history): wait while a
        quarter of the queue's bounds is in use."""
        limits = self.limits
        while not self.done.done() and (len(self.pending) > limits.max_events // 4
                                        or self.pending_bytes > limits.max_bytes // 4):
            writable: asyncio.Future[Any] = self.hub.loop.create_future()
            self._writable = writable
            await asyncio.wait([writable, self.done], return_when=asyncio.FIRST_COMPLETED)

    # --- ending --------------------------------------------------------------------------------

    def finish(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_result(reason)
        self.hub.forget(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def cut(self, reason: str) -> None:
        """Close a watcher that cannot keep up; the client re-watches or relists."""
        if self.done.done():
            return
        self.cut_reason = reason
        kind = "blocked" if reason.startswith("blocked") else "queue_full"
        TERMINATED_WATCHERS.labels(self.resource, kind).inc()
        log.warning("%s: watch by %s cut at resourceVersion %d: %s", self.resource, self.who, self.last_revision,
                    reason)
        self.pending.clear()
        self.pending_bytes = 0
        self.finish(f"cut: {reason}")


class Broadcaster:
    """The one store watch of a resource, its ring of recent events, and the watchers on it."""

    def __init__(self, hub: WatchHub, store: Store, prefix: str, resource: str) -> None:
        self.hub = hub
        self.store = store
        self.prefix = prefix
        self.resource = resource
        self.watchers: set[Watcher] = set()
        self.ring: collections.deque[tuple[CachedEvent, int]] = collections.deque()  # (event, cost charged)
        self.ring_cost = 0
        self.closed: str | None = None  # why the store watch ended; no watcher may join after that
        self.since = 0  # the ring (plus what is still to come) holds every event from this revision on
        self.last_revision = 0
        self.started: asyncio.Future[None] = hub.loop.create_future()
        self.task = asyncio.create_task(self._run(), name=f"watch-broadcaster {resource}")

    def covers(self, revision: int) -> bool:
        """Can a watcher that needs every event from `revision` on be served from here?"""
        return (self.closed is None and self.started.done() and not self.started.exception()
                and revision >= self.since)

    def attach(self, watcher: Watcher, *, after: int) -> None:
        """Deliver ring events after `after`, then live ones; synchronous, so nothing slips between.
        A broadcaster whose store watch has ended ends the watcher at once (its client re-watches),
        never leaves it on a set that nobody serves."""
        if self.closed is not None:
            watcher.finish(self.closed)
            return
        watcher.last_revision = max(watcher.last_revision, after)
        for ce, _ in self.ring:
            if ce.revision > watcher.last_revision:
                watcher.offer(ce)
        if not watcher.done.done():
            self.watchers.add(watcher)

    async def _run(self) -> None:
        try:
            revision = await self.store.current_revision()
            self.since = revision + 1
            self.last_revision = revision
            self.started.set_result(None)
            async for ev in self.store.watch(self.prefix, start_revision=revision + 1):
                ce = CachedEvent(ev)
                self.last_revision = ce.revision
                for watcher in list(self.watchers):
                    watcher.offer(ce)
                self._remember(ce)
                self.hub.schedule_flush()
            reason = "the store ended the watch"
        except asyncio.CancelledError:
            reason = "server shutting down"
            raise
        except Exception as exc:  # noqa: BLE001 - every watcher on it must end (and re-watch)
            reason = f"the store watch of {self.resource} failed: {exc}"
            log.warning("%s: %s; closing its %d watches", self.resource, reason, len(self.watchers))
            if not self.started.done():
                self.started.set_exception(exc)
        finally:
            self.closed = reason
            if self.hub.broadcasters.get(self.prefix) is self:
                del self.hub.broadcasters[self.prefix]
            for watcher in list(self.watchers):
                watcher.finish(reason)
            self.watchers.clear()
            if not self.started.done():
                self.started.cancel()

    def _remember(self, ce: CachedEvent) -> None:
        cost = ce.cost  # what is charged now is what is given back (encodings added later are not counted)
        self.ring.append((ce, cost))
        self.ring_cost += cost
        limits = self.hub.limits
        while self.ring and (len(self.ring) > limits.ring_events or self.ring_cost > limits.ring_bytes):
            old, charged = self.ring.popleft()
            self.ring_cost -= charged
            self.since = old.revision + 1


class WatchHub:
    """Every broadcaster and watcher of one apiserver; ends them all at shutdown."""

    def __init__(self, store: Store, *, limits: Limits | None = None, min_request_timeout: float = 1800.0) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.min_request_timeout = min_request_timeout
        self.broadcasters: dict[str, Broadcaster] = {}
        self.watchers: set[Watcher] = set()
        self.blocked: set[Watcher] = set()
        self._dirty: set[Watcher] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = 0.0
        self._flush_gap = 0.0
        self._check_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def broadcaster(self, prefix: str, resource: str) -> Broadcaster:
        if self._closed:
            raise E.ServiceUnavailable("the apiserver is shutting down")
        bc = self.broadcasters.get(prefix)
        if bc is None:
            bc = self.broadcasters[prefix] = Broadcaster(self, self.store, prefix, resource)
        await asyncio.shield(bc.started)
        return bc

    def register(self, watcher: Watcher) -> None:
        self.watchers.add(watcher)
        if self._closed:
            watcher.finish("server shutting down")

    def forget(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        self.blocked.discard(watcher)
        self._dirty.discard(watcher)
        for bc in self.broadcasters.values():
            bc.watchers.discard(watcher)

    def mark_dirty(self, watcher: Watcher) -> None:
        self._dirty.add(watcher)
        self.schedule_flush()

    def schedule_flush(self) -> None:
        if self._flush_handle is None and self._dirty:
            at = self._last_flush + self._flush_gap
            if at <= self.loop.time():
                self._flush_handle = self.loop.call_soon(self._flush)
            else:
                self._flush_handle = self.loop.call_at(at, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        started = time.perf_counter()
        dirty, self._dirty = self._dirty, set()
        for watcher in dirty:
            watcher.flush()
        self._flush_gap = min(self.limits.flush_interval, 2 * (time.perf_counter() - started))
        self._last_flush = self.loop.time()
        if self.blocked and self._check_handle is None:
            self._check_handle = self.loop.call_later(self.limits.check_interval, self._check_blocked)

    def _check_blocked(self) -> None:
        """Writers wait for their transports here (aiohttp owns the transport's drain signal)."""
        self._check_handle = None
        now = time.monotonic()
        budget = self.limits.write_budget
        for watcher in list(self.blocked):
            if watcher.blocked_since is not None and now - watcher.blocked_since > budget:
                watcher.cut(f"blocked: the client read nothing for {budget:.0f} s with "
                            f"{len(watcher.pending)} events waiting")
            else:
                watcher.flush()
        if self.blocked:
            self._check_handle = self.loop.call_later(self.limits.check_interval, self._check_blocked)

    async def close(self) -> None:
        """End every watch now (the app's on_shutdown) and stop the store watches."""
        self._closed = True
        for watcher in list(self.watchers):
            watcher.finish("server shutting down")
        for bc in list(self.broadcasters.values()):
            bc.task.cancel()
        for bc in list(self.broadcasters.values()):
            with contextlib.suppress(BaseException):
                await bc.task
        if self._check_handle is not None:
            self._check_handle.cancel()
