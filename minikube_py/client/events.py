"""Events as Kubernetes components write them: core/v1 Events about an object, written in the
background (a component never waits on an event), a repeat of the same event counted on the
existing one rather than duplicated.  Used by the scheduler, the controllers and the node side.
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
        self._pending: set[asyncio.Task[None]] = set()

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
        context = contextvars.copy_context()
        context.run(TALLY.set, None)  # an event written is not progress of the pass that reported it
        try:
            task = asyncio.get_running_loop().create_task(self._write(obj, meta, type_, reason, message),
                                                          context=context)
        except RuntimeError:
            return  # no loop (a unit test calling without one)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

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
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


