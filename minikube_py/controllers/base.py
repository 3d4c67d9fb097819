"""The reconcile loop every controller shares, and what controllers need around it.

A controller registers informer handlers that only enqueue keys; its workers take a key, call
`reconcile(key)` (read the cache, compare with what is wanted, act through the apiserver, write
status last) and requeue on failure with the queue's exponential backoff, so a bad object is
logged, evented and retried, never hot-looped.  `reconcile` may return a delay to be called again
after it (deadlines, availability that matures).

Also here: `Expectations` (creates and deletes a controller has asked for and not yet seen in its cache, so a
stale cache never causes duplicates), and pod helpers shared by the workload controllers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..api import kinds
from ..client.aio import ApiClient
from ..client.events import EventRecorder
from ..client.informer import CURRENT_EVENT, Informer, InformerFactory, key_of, split_key
from ..client.rest import StatusError
from ..client.tasks import run_together
from ..client.tracing import Tracer
from ..client.workqueue import WorkQueue

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.controllers")

def kind_info(api_version: str, kind: str) -> kinds.KindInfo:
    info = kinds.by_kind(api_version, kind)
    if info is None:
        raise KeyError(f"{api_version} {kind}")
    return info


POD = kind_info("v1", "Pod")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


# --- expectations --------------------------------------------------------------------------------

@dataclass
class _Expectation:
    adds: int = 0
    deletes: int = 0
    stamp: float = field(default_factory=time.monotonic)


class Expectations:
    """What a controller has asked for and not yet observed; a key is satisfied when both counts
    reached zero or the record is older than `ttl` (a lost watch event must not block forever)."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._records: dict[str, _Expectation] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._records[key] = _Expectation(adds, deletes)

    def observed_add(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None and rec.adds > 0:
            rec.adds -= 1

    def observed_delete(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None and rec.deletes > 0:
            rec.deletes -= 1

    def satisfied(self, key: str) -> bool:
        rec = self._records.get(key)
        if rec is None:
            return True
        return (rec.adds <= 0 and rec.deletes <= 0) or time.monotonic() - rec.stamp > self.ttl

    def forget(self, key: str) -> None:
        self._records.pop(key, None)


# --- pods ------------------------------------------------------------------------------------------

def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_ref(owner: Obj, *, block: bool = True) -> Obj:
    meta = owner.get("metadata") or {}
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": block}


def pod_condition(pod: Obj, type_: str) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def pod_ready(pod: Obj) -> bool:
    c = pod_condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    c = pod_condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def pod_active(pod: Obj) -> bool:
    """Counts toward replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; an empty one matches nothing
    for controllers (as Kubernetes' workload controllers treat it)."""
    if not selector:
        return False
    labels = labels or {}
    match_labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not match_labels and not exprs:
        return False
    for k, v in match_labels.items():
        if labels.get(k) != v:
            return False
    for e in exprs:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --- the controller ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Kubernetes' timings, or the fast test profile with the same ratios (DESIGN.md)."""

    name: str
    lease_renew: float
    node_grace: float
    eviction_toleration: int


TIMINGS = {"kubernetes": Timing("kubernetes", 10.0, 50.0, 300), "fast": Timing("fast", 2.0, 10.0, 30)}


@dataclass
class ControllerContext:
    client: ApiClient
    informers: InformerFactory
    recorder: EventRecorder
    timing: Timing = field(default_factory=lambda: TIMINGS["kubernetes"])
    tracer: Tracer | None = None




class Controller:
    """Subclasses set `name`, register handlers in `__init__` and implement `reconcile`."""

    name = "controller"
    kind = ""  # what its keys name (for traces)
    workers = 2
    # after a pass that took d seconds, the same key waits `cool_down_factor * d` before the next:
    # cheap passes are not delayed, an expensive one cannot eat the CPU one event at a time
    cool_down_factor = 4.0

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.queue = WorkQueue(self.name)
        self.reconciles = 0
        self.errors = 0
        self.triggers: dict[Hashable, str] = {}  # key -> what last asked for a pass (for traces)
        self.tracer = ctx.tracer
        self.primary: Informer | None = None  # the informer of the objects the keys name (for events)

    def add(self, key: Hashable) -> None:
        """Queue `key`, noting the informer event being handled as its trigger."""
        event = CURRENT_EVENT.get()
        if event:
            self.triggers[key] = event
        self.queue.add(key)

    def enqueue(self, obj: Obj) -> None:
        self.add(key_of(obj))

    async def reconcile(self, key: Any) -> float | None:
        """One pass for `key` (a "namespace/name" string, or what the subclass enqueues)."""
        raise NotImplementedError

    async def on_start(self) -> None:
        """Called once the informers are synced, before the workers start."""

    async def process(self, key: Hashable) -> None:
        """One pass over one key, with the error policy (used by workers and by tests)."""
        self.reconciles += 1
        started = time.perf_counter()
        trigger = self.triggers.pop(key, "") or "requeue"
        token = self.tracer.begin(self.name, self.kind, str(key), trigger) if self.tracer else None
        try:
            again = await self.reconcile(key)
        except StatusError as exc:
            self.errors += 1
            delay = self.queue.add_rate_limited(key)
            level = logging.DEBUG if exc.code == 409 else logging.WARNING
            log.log(level, "%s %s: %s %s; retrying in %.2fs", self.name, key, exc.code, exc, delay)
            if self.tracer:
                what = "conflict" if exc.code == 409 else f"error {exc.code}"
                self.tracer.end(token, f"{what}: {exc}; requeued in {delay:.2f}s")
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or a bad object: log, event, back off, go on
            self.errors += 1
            delay = self.queue.add_rate_limited(key)
            log.exception("%s %s: reconcile failed (%s); retrying in %.2fs", self.name, key, exc, delay)
            obj = self.primary.get(str(key)) if self.primary is not None else None
            if obj is not None:
                self.recorder.event(obj, "Warning", "ReconcileError",
                                    f"{self.name}: {type(exc).__name__}: {exc} (retrying in {delay:.1f}s)")
            if self.tracer:
                self.tracer.end(token, f"failed: {type(exc).__name__}: {exc}; requeued in {delay:.2f}s")
            return
        if self.tracer:
            self.tracer.end(token, "ok" if again is None else f"ok; again in {again:.2f}s")
        self.queue.forget(key)
        spent = time.perf_counter() - started
        if spent > 0.002 and self.cool_down_factor:
            self.queue.cool_down(key, min(spent * self.cool_down_factor, 1.0))
        if again is not None:
            self.queue.add_after(key, again)

    async def worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def drain(self) -> int:
        """Process everything queued now, one key at a time (tests call this instead of workers)."""
        n = 0
        while (key := self.queue.get_nowait()) is not None:
            try:
                await self.process(key)
            finally:
                self.queue.done(key)
            n += 1
        return n

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.worker(), name=f"{self.name}-{i}") for i in range(self.workers)]
        await run_together(tasks)


def namespaced(key: str) -> tuple[str, str]:
    ns, name = split_key(key)
    return ns or "default", name
