"""The unit harness of the control loops: a FakeApi, informers over it, a manual clock and an
event recorder, wired into a ControllerContext.

Tests preload objects, `sync()` them into the caches (as a watch would), call `drain()` on a
controller (or `reconcile` directly) and assert on the writes.  Every pass is checked to leave
the informer caches exactly as it found them (`CacheGuard`): objects from a cache are shared and
read-only, and a controller that changes one corrupts every other reader.
"""

from __future__ import annotations

from typing import Any

import orjson

from minikube_py.api import kinds
from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import InformerFactory
from minikube_py.controllers.base import Controller, ControllerContext
from tests.unit.fake_api import FakeApi
from tests.unit.fake_clock import ManualClock

Obj = dict[str, Any]


class CacheModified(AssertionError):
    pass


def snapshot(informers: InformerFactory) -> dict[str, bytes]:
    return {name: orjson.dumps(inf.cache, option=orjson.OPT_SORT_KEYS)
            for name, inf in informers.informers.items()}


def install_cache_guard(monkeypatch: Any) -> None:
    """Wrap Controller.process: a pass that changed any informer cache fails the test."""
    original = Controller.process

    async def checked(self: Controller, key: Any) -> None:
        before = snapshot(self.ctx.informers)
        await original(self, key)
        after = snapshot(self.ctx.informers)
        changed = [name for name in before if after.get(name) != before[name]]
        if changed:
            raise CacheModified(f"{self.name} changed the informer cache of {', '.join(changed)} while "
                                f"reconciling {key!r}: copy objects from a cache before changing them")

    monkeypatch.setattr(Controller, "process", checked)


class Harness:
    def __init__(self) -> None:
        self.api = FakeApi()
        self.clock = ManualClock()
        self.informers = InformerFactory(self.api, clock=self.clock)  # type: ignore[arg-type]
        self.recorder = EventRecorder(self.api, "test", clock=self.clock)  # type: ignore[arg-type]
        self.ctx = ControllerContext(self.api, self.informers, self.recorder, clock=self.clock)  # type: ignore[arg-type]

    def sync(self) -> None:
        self.api.sync(self.informers)

    def set_pods_ready(self, node: str = "n1") -> None:
        """What kubelets would do: every pod Running and Ready."""
        for (plural, _ns, _name), obj in self.api.objects.items():
            if plural == "pods":
                obj["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                                      "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
                obj["spec"]["nodeName"] = node
                obj["metadata"]["resourceVersion"] = str(next(self.api._rv))

    def edit(self, plural: str, name: str, namespace: str | None = "default") -> Obj:
        """The stored object, to change in place, with a new resourceVersion (so the cache sees it)."""
        obj = self.api.objects[(plural, namespace, name)]
        obj["metadata"]["resourceVersion"] = str(next(self.api._rv))
        return obj

    async def create(self, plural: str, obj: Obj, namespace: str | None = "default") -> Obj:
        info = next(i for i in kinds.KINDS if i.plural == plural)
        return await self.api.create(info, namespace if info.namespaced else None, obj)

    def events(self, reason: str | None = None) -> list[Obj]:
        return [e for e in self.api.of("events") if reason is None or e.get("reason") == reason]

    async def settle_events(self) -> None:
        await self.recorder.flush()
