"""The reconcile loop every controller shares, and what controllers need around it.

A controller registers informer handlers that only enqueue keys; its workers take a key, call
`reconcile(key)` (read the cache, compare with what is wanted, act through the apiserver, write
status last) and requeue on failure with the queue's per-key exponential backoff (or the
server's Retry-After, if longer), so a bad object is logged, evented and retried, never
hot-looped.  The retry contract: a pass that fails any write raises (after writing status), and
`process` is the one place that turns that into a backoff.  `reconcile` may return a delay to be
called again after it (deadlines, availability that matures).  Objects from the informers are
shared and read-only: copy before changing (the unit harness checks it after every pass).

Also here: `Expectations` (creates and deletes a controller has asked for and not yet seen in its cache, so a
stale cache never causes duplicates), and pod helpers shared by the workload controllers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..api import kinds
from ..api.errors import AlreadyExists, ApiError, Conflict
from ..api.ranges import CLUSTER_CIDR
from ..api.selectors import label_selector_matches
from ..api.times import parse_time
from ..api.timing import TIMINGS, Timing
from ..client.aio import ApiClient
from ..client.clock import SYSTEM, Clock
from ..client.events import EventRecorder
from ..client.informer import CURRENT_EVENT, Informer, InformerFactory, key_of, split_key
from ..client.tasks import run_together
from ..client.tracing import TALLY, Tracer, WriteTally
from ..client.workqueue import WorkQueue

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.controllers")


POD = kinds.require("v1", "Pod")


# --- expectations --------------------------------------------------------------------------------

@dataclass
class _Expectation:
    adds: int
    deletes: int
    stamp: float


class Expectations:
    """What a controller has asked for and not yet observed; a key is satisfied when both counts
    reached zero or the record is older than `ttl` (a lost watch event must not block forever)."""

    def __init__(self, ttl: float = 300.0, clock: Clock = SYSTEM) -> None:
        self.ttl = ttl
        self.clock = clock
        self._records: dict[str, _Expectation] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._records[key] = _Expectation(adds, deletes, self.clock.monotonic())

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
        return (rec.adds <= 0 and rec.deletes <= 0) or self.clock.monotonic() - rec.stamp > self.ttl

    def expire_within(self, key: str, seconds: float) -> None:
        """Let the record of `key` expire at the latest `seconds` from now (an expectation held for a
        create that may not have happened must not hold the set back for the whole ttl)."""
        rec = self._records.get(key)
        if rec is not None:
            rec.stamp = min(rec.stamp, self.clock.monotonic() - self.ttl + seconds)

    def forget(self, key: str) -> None:
        self._records.pop(key, None)


# --- pods ------------------------------------------------------------------------------------------

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
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    return label_selector_matches(selector, labels)


# --- the controller ------------------------------------------------------------------------------

@dataclass
class ControllerContext:
    client: ApiClient
    informers: InformerFactory
    recorder: EventRecorder
    timing: Timing = field(default_factory=lambda: TIMINGS["kubernetes"])
    tracer: Tracer | None = None
    clock: Clock = SYSTEM
    cluster_cidr: str = CLUSTER_CIDR  # kube-controller-manager's --cluster-cidr: each node gets a /24 of it




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
        self.clock = ctx.clock
        self.queue = WorkQueue(self.name, clock=ctx.clock)
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

    def trace_subject(self, key: Any) -> tuple[str, str]:
        """(Kind, "namespace/name") of what `key` names, as a trace shows it."""
        return self.kind, str(key)

    async def on_start(self) -> None:
        """Called once the informers are synced, before the workers start."""

    async def process(self, key: Hashable) -> None:
        """One pass over one key, with the error policy (used by workers and by tests)."""
        self.reconciles += 1
        started = time.perf_counter()
        trigger = self.triggers.pop(key, "") or "requeue"
        token = self.tracer.begin(self.name, *self.trace_subject(key), trigger) if self.tracer else None
        tally = WriteTally()
        tally_token = TALLY.set(tally)
        try:
            again = await self.reconcile(key)
        except ApiError as exc:
            self.errors += 1
            if tally.accepted:
                # the pass failed but got writes through (a 500-pod ReplicaSet whose creates fail one
                # in five): progress, so the backoff starts again from its base instead of growing
                # toward minutes and stalling the work
                self.queue.forget(key)
            delay = self.queue.add_rate_limited(key, exc.retry_after or 0.0)
            conflict = isinstance(exc, Conflict | AlreadyExists)
            level = logging.DEBUG if conflict else logging.WARNING
            log.log(level, "%s: %s: %s %s: %s; retrying in %.2fs", key, self.name, exc.code, exc.reason, exc, delay)
            if self.tracer:
                what = "conflict" if conflict else f"error {exc.code} {exc.reason}"
                self.tracer.end(token, f"{what}: {exc}; requeued in {delay:.2f}s")
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or a bad object: log, event, back off, go on
            self.errors += 1
            delay = self.queue.add_rate_limited(key)
            log.exception("%s: %s: reconcile failed (%s); retrying in %.2fs", key, self.name, exc, delay)
            obj = self.primary.get(str(key)) if self.primary is not None else None
            if obj is not None:
                self.recorder.event(obj, "Warning", "ReconcileError",
                                    f"{self.name}: {type(exc).__name__}: {exc} (retrying in {delay:.1f}s)")
            if self.tracer:
                self.tracer.end(token, f"failed: {type(exc).__name__}: {exc}; requeued in {delay:.2f}s")
            return
        finally:
            TALLY.reset(tally_token)
        if self.tracer:
            self.tracer.end(token, "ok" if again is None else f"ok; again in {again:.2f}s")
        self.queue.forget(key)
        spent = time.perf_counter() - started  # CPU spent, not clock time: stays real
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
