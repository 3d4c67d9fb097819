"""Events as Kubernetes components write them: core/v1 Events about an object, written in the
background (a component never waits on an event), a repeat of the same event counted on the
existing one rather than duplicated.  Used by the scheduler, the controllers and the node side.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from ..api import kinds
from .aio import ApiClient
from .informer import key_of
from .rest import StatusError

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.events")
_EVENT = kinds.by_kind("v1", "Event")
assert _EVENT is not None
EVENT: kinds.KindInfo = _EVENT


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    def __init__(self, client: ApiClient, component: str) -> None:
        self.client = client
        self.component = component
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}  # -> (event name, count)
        self._similar: dict[tuple[str, str, str], list[float]] = {}
        self._pending: set[asyncio.Task[None]] = set()

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        log.debug("%s %s: %s %s", obj.get("kind"), key_of(obj), reason, message)
        group = (str(meta.get("uid")), reason, type_)
        now = time.monotonic()
        stamps = [t for t in self._similar.get(group, []) if now - t < SIMILAR_WINDOW] + [now]
        self._similar[group] = stamps[-(SIMILAR_LIMIT + 1):]
        _forget_oldest(self._similar)  # bounded: a long-running master must not grow
        _forget_oldest(self._seen)
        if len(stamps) > SIMILAR_LIMIT:
            message = f"(combined from similar events): {message}"
        try:
            task = asyncio.get_running_loop().create_task(self._write(obj, meta, type_, reason, message))
        except RuntimeError:
            return  # no loop (a unit test calling without one)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, obj: Obj, meta: Obj, type_: str, reason: str, message: str) -> None:
        ns = meta.get("namespace") or "default"
        combined = message.startswith("(combined from similar events): ")
        ident = (str(meta.get("uid")), reason, "(combined)" if combined else message, type_)
        stamp = now_iso()
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
        except StatusError as exc:
            if exc.code == 404 and ident in self._seen:
                self._seen.pop(ident, None)  # the event expired: next time write a new one
            log.debug("event %s for %s not written: %s", reason, meta.get("name"), exc)
        except Exception as exc:  # noqa: BLE001 - events are best effort
            log.debug("event %s for %s not written: %s", reason, meta.get("name"), exc)

    async def flush(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


