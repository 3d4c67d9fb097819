"""ReplicaSet controller: keeps `spec.replicas` pods of the template alive, as Kubernetes' does.

- Pods are matched by selector and owned through a controller ownerReference; matching orphans are
  adopted, owned pods that stop matching are released.
- Creates go out in slow-start batches (1, 2, 4, ... up to 500 a pass) so a failing create stops
  early; deletes pick unscheduled, then pending, then not-ready, then the youngest pods first.
- Expectations: after asking for N creates or deletes, the set is not managed again until the
  cache has seen them (or five minutes pass), so a stale cache never doubles a create.
- Status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration,
  the ReplicaFailure condition) is written every pass, last, and only when it changed; then a
  failed create or delete of the pass is raised, so the set is retried with backoff.
- A create whose answer never came (504 Timeout, a lost connection) may have happened: it stays
  expected, as in Kubernetes, so the next pass waits for the watch (or the expectation's expiry)
  instead of creating a duplicate.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from ..api import kinds
from ..api.errors import ApiError, ConnectionLost, NotFound, Timeout
from ..api.times import format_time
from ..client.informer import Informer, is_resync, key_of
from ..client.tracing import observe, want
from .base import (
    POD,
    Controller,
    ControllerContext,
    Expectations,
    namespaced,
    pod_active,
    pod_available,
    pod_ready,
    selector_matches,
)
from .claims import claim, controller_of, delete_owned, index_by_controller, owned, owner_ref

Obj = dict[str, Any]
RS = kinds.require("apps/v1", "ReplicaSet")
BURST = 500
LOST_CREATE_WAIT = 30.0  # seconds a create whose connection broke stays expected


def pod_from_template(owner: Obj, template: Obj, *, name: str | None = None) -> Obj:
    meta = copy.deepcopy(template.get("metadata") or {})
    out_meta: Obj = {"labels": meta.get("labels") or {}, "ownerReferences": [owner_ref(owner)]}
    if meta.get("annotations"):
        out_meta["annotations"] = meta["annotations"]
    if name:
        out_meta["name"] = name
    else:
        out_meta["generateName"] = f"{owner['metadata']['name']}-"
    out_meta["namespace"] = owner["metadata"].get("namespace")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": out_meta, "spec": copy.deepcopy(template.get("spec") or {})}


def _delete_rank(pod: Obj) -> tuple[Any, ...]:
    """Lower sorts first = deleted first: unscheduled < scheduled, Pending < Unknown < Running,
    not ready < ready, more restarts first, younger first."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if pod_ready(pod) else 0, -restarts,
            _neg(created))


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    kind = "ReplicaSet"
    workers = 4

    def __init__(self, ctx: ControllerContext, *, owner_kind: str = "ReplicaSet") -> None:
        super().__init__(ctx)
        self.sets: Informer = ctx.informers.get(RS)
        self.primary = self.sets
        self.pods: Informer = ctx.informers.get(POD)
        self.expectations = Expectations(clock=ctx.clock)
        index_by_controller(self.pods)
        if not self.pods.has_index("orphan"):  # pods without a controller, by namespace: adoption candidates
            self.pods.add_index("orphan", lambda p: [] if controller_of(p) is not None or not pod_active(p)
                                else [str(p["metadata"].get("namespace"))])
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)

    # --- handlers: only enqueue ------------------------------------------------------------------

    def _on_set(self, kind: str, obj: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            self.expectations.forget(key_of(obj))
        self.enqueue(obj)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        return f"{pod['metadata'].get('namespace')}/{ref.get('name')}"

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if is_resync(kind, pod, old):
            return  # the sets' own resync covers them
        key = self._owner_key(pod)
        if key is not None:
            if kind == "ADDED" and old is None:
                self.expectations.observed_add(key)
            elif kind == "DELETED" or ((pod.get("metadata") or {}).get("deletionTimestamp") and old is not None
                                       and not (old.get("metadata") or {}).get("deletionTimestamp")):
                self.expectations.observed_delete(key)
            self.add(key)
            old_key = self._owner_key(old) if old else None
            if old_key and old_key != key:
                self.add(old_key)
            return
        # an orphan: any set whose selector matches may adopt it
        labels = (pod.get("metadata") or {}).get("labels") or {}
        ns = (pod.get("metadata") or {}).get("namespace")
        for rs in self.sets.objects(ns):
            if selector_matches((rs.get("spec") or {}).get("selector"), labels):
                self.enqueue(rs)

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        rs = self.sets.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        ns, _ = namespaced(key)
        pods = await self._claim(rs, ns)
        active = [p for p in pods if pod_active(p)]
        spec = rs.get("spec") or {}
        want_replicas = int(spec.get("replicas", 1))
        failure: str | None = None
        observe(pods=len(active), ready=sum(1 for p in active if pod_ready(p)),
                expectations="satisfied" if self.expectations.satisfied(key) else "pending")
        want(replicas=want_replicas)
        error: ApiError | None = None
        if self.expectations.satisfied(key) and not (rs.get("metadata") or {}).get("deletionTimestamp"):
            error, failure = await self._manage(rs, key, active, want_replicas)
        again = await self._update_status(rs, active, failure)
        if error is not None:
            raise error  # after the status: the pass failed, the set is retried with backoff
        return again

    async def _claim(self, rs: Obj, ns: str) -> list[Obj]:
        """Pods this set owns after adopting matching orphans and releasing owned misfits."""
        selector = (rs.get("spec") or {}).get("selector")
        return await claim(self.client, POD, rs,
                           matches=lambda p: selector_matches(selector, (p.get("metadata") or {}).get("labels")),
                           owned_now=owned(self.pods, rs), orphans=self.pods.by_index("orphan", ns),
                           adoptable=pod_active)

    async def _manage(self, rs: Obj, key: str, active: list[Obj], want: int) -> tuple[ApiError | None, str | None]:
        """Create or delete toward `want`.  Returns the first error of the pass (raised after the status
        write) and the message of a failed create (the ReplicaFailure condition)."""
        diff = len(active) - want
        if diff < 0:
            count = min(-diff, BURST)
            self.expectations.expect(key, adds=count)
            maybe_created, error = await self._slow_start_create(rs, count)
            for _ in range(count - maybe_created):
                self.expectations.observed_add(key)  # creates that were never sent or failed
            if isinstance(error, ConnectionLost):
                # no answer at all (not the apiserver's 504): the pod may or may not exist; wait for the
                # watch, but not the whole five minutes if it never shows
                self.expectations.expire_within(key, LOST_CREATE_WAIT)
            if error is None:
                return None, None
            return error, None if isinstance(error, Timeout) else str(error)
        if diff > 0:
            victims = sorted(active, key=_delete_rank)[:min(diff, BURST)]
            self.expectations.expect(key, deletes=len(victims))
            results = await asyncio.gather(*(self._delete_pod(p) for p in victims), return_exceptions=True)
            first: ApiError | BaseException | None = None
            for victim, result in zip(victims, results, strict=True):
                if result is True:
                    self.recorder.event(rs, "Normal", "SuccessfulDelete",
                                        f"Deleted pod: {victim['metadata']['name']}")
                    continue
                self.expectations.observed_delete(key)
                if isinstance(result, BaseException):
                    first = first or result
                    self.recorder.event(rs, "Warning", "FailedDelete",
                                        f"Error deleting: {result}")
            if first is not None and not isinstance(first, ApiError):
                raise first
            return first, None
        return None, None

    async def _delete_pod(self, pod: Obj) -> bool:
        return await delete_owned(self.client, POD, pod)

    async def _slow_start_create(self, rs: Obj, count: int) -> tuple[int, ApiError | None]:
        """Creates in batches of 1, 2, 4, ...; stops at the first batch with an error.  Returns the
        creates that happened or may have (a Timeout), and the first real error."""
        template = (rs.get("spec") or {}).get("template") or {}
        ns = rs["metadata"].get("namespace")
        done, batch = 0, 1
        while done < count:
            size = min(batch, count - done)
            results = await asyncio.gather(*(self.client.create(POD, ns, pod_from_template(rs, template))
                                             for _ in range(size)), return_exceptions=True)
            error: ApiError | None = None
            for r in results:
                if isinstance(r, Timeout):
                    done += 1  # it may exist: stays expected, so no duplicate is made before the watch says
                    error = error or r
                    self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating (it may exist): {r}")
                elif isinstance(r, ApiError):
                    error = error or r
                elif isinstance(r, BaseException):
                    raise r
                else:
                    done += 1
                    self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {r['metadata']['name']}")
            if error is not None:
                if not isinstance(error, Timeout):
                    self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {error}")
                return done, error
            batch *= 2
        return done, None

    async def _update_status(self, rs: Obj, active: list[Obj], failure: str | None) -> float | None:
        spec = rs.get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        ready = [p for p in active if pod_ready(p)]
        available = [p for p in ready if pod_available(p, min_ready, now)]
        fully = [p for p in active
                 if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())]
        old = rs.get("status") or {}
        status: Obj = {"replicas": len(active), "fullyLabeledReplicas": len(fully), "readyReplicas": len(ready),
                       "availableReplicas": len(available),
                       "observedGeneration": (rs.get("metadata") or {}).get("generation", 0)}
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if failure:
            previous = next((c for c in old.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": failure,
                               "lastTransitionTime": (previous or {}).get("lastTransitionTime") or format_time(self.clock.now())})
        if conditions:
            status["conditions"] = conditions
        compared = {k: old.get(k, 0 if k != "conditions" else None) for k in status}
        if {k: v for k, v in compared.items() if v not in (None, 0)} != \
                {k: v for k, v in status.items() if v not in (None, 0)}:
            body = {**rs, "status": status}  # the cached object stays as it is
            try:
                await self.client.update(RS, rs["metadata"].get("namespace"), body, subresource="status")
            except NotFound:
                pass  # deleted meanwhile: nothing to report on
        # pods that are ready but not yet available for minReadySeconds: look again when they are
        if min_ready and len(available) < len(ready):
            return float(min_ready)
        return None
