"""Events as Kubernetes components write them: core/v1 Events about an object, written in the
background (a component never waits on an event), a repeat of the same event counted on the
existing one rather than duplicated.  Used by the scheduler, the controllers and the node side.

As client-go's event broadcaster does, events wait in a queue of 1,000 and one writer sends them
one at a time; when the queue is full a new event is dropped (counted in `dropped`), so a burst
of events (10,000 pods scheduled at once) never competes with the component's own writes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from typing import Any

from ..api import kinds
from ..api.errors import ApiError, NotFound
from ..api.times import format_time
from .aio import ApiClient
from .clock import SYSTEM, Clock
from .informer import key_of
from .tracing import TALLY

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.events")
EVENT = kinds.require("v1", "Event")


SIMILAR_LIMIT = 10  # Kubernetes' event aggregator: beyond 10 similar events, combine them
SIMILAR_WINDOW = 600.0
REMEMBERED = 5000  # events remembered for counting repeats (oldest forgotten first)
QUEUED_LIMIT = 1000  # client-go's maxQueuedEvents: beyond it, new events are dropped


def _forget_oldest(memory: dict[Any, Any]) -> None:
    while len(memory) > REMEMBERED:
        del memory[next(iter(memory))]


class EventRecorder:
    """Writes core/v1 Events in the background; a repeat of the same event bumps its count, and
    more than 10 events of one reason about one object within 10 minutes (messages differing, as
    "Created pod: <name>") are combined into one, as Kubernetes' event aggregator does."""

    def __init__(self, client: ApiClient, component: str, *, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.clock = clock
        self.component = component
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}  # -> (event name, count)
        self._similar: dict[tuple[str, str, str], list[float]] = {}
        self._queue: asyncio.Queue[tuple[Obj, Obj, str, str, str]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dropped = 0

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        log.debug("%s %s: %s %s", obj.get("kind"), key_of(obj), reason, message)
        group = (str(meta.get("uid")), reason, type_)
        now = self.clock.monotonic()
        stamps = [t for t in self._similar.get(group, []) if now - t < SIMILAR_WINDOW] + [now]
        self._similar[group] = stamps[-(SIMILAR_LIMIT + 1):]
        _forget_oldest(self._similar)  # bounded: a long-running master must not grow
        _forget_oldest(self._seen)
        if len(stamps) > SIMILAR_LIMIT:
            message = f"(combined from similar events): {message}"
        try:
            queue = self._queue_in(asyncio.get_running_loop())
        except RuntimeError:
            return  # no loop (a unit test calling without one)
        try:
            queue.put_nowait((obj, meta, type_, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("%s %s: event %s dropped: %d events queued (%d dropped so far)", obj.get("kind"),
                            key_of(obj), reason, QUEUED_LIMIT, self.dropped)

    def _queue_in(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[tuple[Obj, Obj, str, str, str]]:
        """The queue and its writer, made in the running loop on first use."""
        if self._queue is None or self._loop is not loop or self._writer is None or self._writer.done():
            self._queue, self._loop = asyncio.Queue(QUEUED_LIMIT), loop
            context = contextvars.copy_context()
            context.run(TALLY.set, None)  # an event written is not progress of the pass that reported it
            self._writer = loop.create_task(self._drain(self._queue), name=f"events-{self.component}",
                                            context=context)
        return self._queue

    async def _drain(self, queue: asyncio.Queue[tuple[Obj, Obj, str, str, str]]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._write(*item)
            finally:
                queue.task_done()

    async def _write(self, obj: Obj, meta: Obj, type_: str, reason: str, message: str) -> None:
        ns = meta.get("namespace") or "default"
        combined = message.startswith("(combined from similar events): ")
        ident = (str(meta.get("uid")), reason, "(combined)" if combined else message, type_)
        stamp = format_time(self.clock.now())
        try:
            if ident in self._seen:
                name, count = self._seen[ident]
                self._seen[ident] = (name, count + 1)
                await self.client.patch(EVENT, ns, name, {"count": count + 1, "lastTimestamp": stamp,
                                                          "message": message})
                return
            name = f"{meta.get('name')}.{uuid.uuid4().hex[:16]}"
            self._seen[ident] = (name, 1)
            await self.client.create(EVENT, ns, {
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                   "name": meta.get("name"), "namespace": meta.get("namespace"),
                                   "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
                "reason": reason, "message": message, "type": type_, "count": 1,
                "firstTimestamp": stamp, "lastTimestamp": stamp,
                "source": {"component": self.component}, "reportingComponent": self.component})
        except ApiError as exc:
            if isinstance(exc, NotFound) and ident in self._seen:
                self._seen.pop(ident, None)  # the event expired: next time write a new one
            log.warning("%s %s: event %s not written: %s %s: %s", obj.get("kind"), key_of(obj), reason, exc.code,
                        exc.reason, exc)
        except Exception as exc:  # noqa: BLE001 - events are best effort, never a reason to fail a pass
            log.warning("%s %s: event %s not written: %s: %s", obj.get("kind"), key_of(obj), reason,
                        type(exc).__name__, exc)

    async def flush(self) -> None:
        """Wait until every queued event was written (or failed)."""
        if self._queue is not None and self._writer is not None and not self._writer.done():
            await self._queue.join()


