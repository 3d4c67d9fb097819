"""Deployment controller: rolls a Deployment's pod template out through ReplicaSets, as
Kubernetes' does.

- The new ReplicaSet is `<name>-<pod-template-hash>` (FNV-32a of the template, Kubernetes' safe
  alphabet), labelled and selected by that hash, with the revision, desired-replicas and
  max-replicas annotations; the Deployment carries the revision too.
- RollingUpdate: scale the new set up while the total stays within replicas + maxSurge; scale old
  sets down (unhealthy pods first, oldest set first) while availability stays at or above
  replicas - maxUnavailable.  Recreate: old sets to zero, wait until their pods are gone, then
  the new set to full size.
- A scale of the Deployment during a rollout is spread over the active sets in proportion.
- Paused: scaling only, no rollout; Progressing=Unknown (DeploymentPaused).
- Status: replicas, updated, ready, available, unavailable, observedGeneration, and the Available
  and Progressing conditions with Kubernetes' reasons (NewReplicaSetCreated, ReplicaSetUpdated,
  NewReplicaSetAvailable, ProgressDeadlineExceeded); the controller looks again when the
  deadline would pass.
- Old sets scaled to zero beyond revisionHistoryLimit are deleted, oldest first.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

from ..api import kinds
from ..api.errors import AlreadyExists, ApiError, NotFound
from ..api.times import format_time, parse_time
from ..client.informer import Informer, is_resync
from ..client.tracing import observe, want
from .base import POD, Controller, ControllerContext, namespaced, pod_active, selector_matches
from .claims import claim, controller_of, index_by_controller, owned, owner_ref

Obj = dict[str, Any]
DEPLOY = kinds.require("apps/v1", "Deployment")
RS = kinds.require("apps/v1", "ReplicaSet")

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """FNV-32a over the template (plus the collision count), written in Kubernetes' safe alphabet."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(c) % len(SAFE_ALPHABET)] for c in str(h))


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def resolve_fraction(value: Any, total: int, round_up: bool) -> int:
    """maxSurge / maxUnavailable: an int, or a percentage of `total` rounded as Kubernetes does."""
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        fraction = float(text[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


def surge_and_unavailable(d: Obj) -> tuple[int, int]:
    spec = d.get("spec") or {}
    ru = ((spec.get("strategy") or {}).get("rollingUpdate")) or {}
    replicas = int(spec.get("replicas", 1))
    surge = resolve_fraction(ru.get("maxSurge"), replicas, True)
    unavailable = resolve_fraction(ru.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # Kubernetes: both zero would never progress
    return surge, unavailable


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0) or 0)


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0) or 0)


def _revision(rs: Obj) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _created(rs: Obj) -> tuple[str, str]:
    meta = rs.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))


class DeploymentController(Controller):
    name = "deployment-controller"
    kind = "Deployment"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.deployments: Informer = ctx.informers.get(DEPLOY)
        self.primary = self.deployments
        self.sets: Informer = ctx.informers.get(RS)
        self.pods: Informer = ctx.informers.get(POD)
        index_by_controller(self.sets)
        self.deployments.add_handler(lambda kind, obj, old: self.enqueue(obj))  # resyncs too: the primary
        self.sets.add_handler(self._on_set)
        self.pods.add_handler(self._on_pod)

    def _on_set(self, kind: str, rs: Obj, old: Obj | None) -> None:
        if is_resync(kind, rs, old):
            return  # the deployments' own resync covers them
        ref = controller_of(rs)
        ns = (rs.get("metadata") or {}).get("namespace")
        if ref is not None:
            if ref.get("kind") == "Deployment":
                self.add(f"{ns}/{ref.get('name')}")
            return
        labels = ((rs.get("metadata") or {}).get("labels")) or {}
        for d in self.deployments.objects(ns):
            if selector_matches((d.get("spec") or {}).get("selector"), labels):
                self.enqueue(d)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        # only Recreate waits on pods (old pods gone before the new set starts)
        if kind != "DELETED":
            return
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        ns = (pod.get("metadata") or {}).get("namespace")
        rs = self.sets.get(f"{ns}/{ref.get('name')}")
        dref = controller_of(rs) if rs else None
        if dref is not None and dref.get("kind") == "Deployment":
            self.add(f"{ns}/{dref.get('name')}")

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        d = self.deployments.get(key)
        if d is None:
            return None
        ns, _ = namespaced(key)
        d = copy.deepcopy(d)
        # the sets are the informer's: a pass replaces their spec with what its writes returned, so it
        # works on shallow copies and the cache is never touched
        sets = [dict(rs) for rs in await self._claim(d, ns)]
        spec = d.get("spec") or {}
        if (d.get("metadata") or {}).get("deletionTimestamp"):
            return await self._sync_status(d, sets, None, progress=False)
        new_rs, old_sets = self._split(d, sets)
        observe(new=f"{new_rs['metadata']['name']}={_replicas(new_rs)}" if new_rs else "none",
                old=",".join(f"{rs['metadata']['name']}={_replicas(rs)}" for rs in old_sets if _replicas(rs)) or "none",
                available=sum(_status(rs, "availableReplicas") for rs in sets))
        want(replicas=int(spec.get("replicas", 1)), strategy=(spec.get("strategy") or {}).get("type", "RollingUpdate"),
             paused=bool(spec.get("paused")))
        if spec.get("paused"):
            if await self._scale_proportionally(d, new_rs, old_sets):
                return None
            return await self._sync_status(d, sets, new_rs, progress=False)
        if new_rs is not None and await self._scaling_event(d, new_rs, old_sets):
            return None
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            return await self._recreate(d, ns, new_rs, old_sets)
        return await self._rolling(d, ns, new_rs, old_sets)

    async def _claim(self, d: Obj, ns: str) -> list[Obj]:
        """The sets this deployment owns after adopting matching orphans and releasing misfits."""
        selector = (d.get("spec") or {}).get("selector")
        return await claim(self.client, RS, d,
                           matches=lambda rs: selector_matches(selector, (rs.get("metadata") or {}).get("labels")),
                           owned_now=owned(self.sets, d), orphans=self.sets.objects(ns))

    def _split(self, d: Obj, sets: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        wanted = _without_hash((d.get("spec") or {}).get("template") or {})
        new = [rs for rs in sets if _without_hash((rs.get("spec") or {}).get("template") or {}) == wanted]
        new.sort(key=_created)
        new_rs = new[0] if new else None
        old = [rs for rs in sets if rs is not new_rs]
        return new_rs, old

    # --- the new ReplicaSet ------------------------------------------------------------------------

    async def _ensure_new(self, d: Obj, ns: str, new_rs: Obj | None, old_sets: list[Obj],
                          replicas: int) -> tuple[Obj, bool]:
        """The new set, with its revision brought up to date; created when missing."""
        max_old = max((_revision(rs) for rs in old_sets), default=0)
        spec = d.get("spec") or {}
        surge, _ = surge_and_unavailable(d)
        want_replicas = int(spec.get("replicas", 1))
        if new_rs is not None:
            ann = (new_rs.get("metadata") or {}).get("annotations") or {}
            revision = _revision(new_rs)
            changes: Obj = {}
            if revision <= max_old:
                changes[REVISION] = str(max_old + 1)
            if ann.get(DESIRED) != str(want_replicas):
                changes[DESIRED] = str(want_replicas)
            if ann.get(MAX_REPLICAS) != str(want_replicas + surge):
                changes[MAX_REPLICAS] = str(want_replicas + surge)
            if changes:
                new_rs = await self.client.patch(RS, ns, new_rs["metadata"]["name"],
                                                 {"metadata": {"annotations": changes}})
            await self._set_deployment_revision(d, ns, _revision(new_rs))
            return new_rs, False
        collision = int((d.get("status") or {}).get("collisionCount") or 0)
        template = copy.deepcopy(spec.get("template") or {})
        h = template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        revision = max_old + 1
        name = f"{d['metadata']['name']}-{h}"
        body: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": ns,
                             "labels": dict(template["metadata"]["labels"]),
                             "annotations": {REVISION: str(revision), DESIRED: str(want_replicas),
                                             MAX_REPLICAS: str(want_replicas + surge)},
                             "ownerReferences": [owner_ref(d)]},
                "spec": {"replicas": replicas, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                         "selector": selector, "template": template}}
        try:
            created = await self.client.create(RS, ns, body)
        except ApiError as exc:
            if not isinstance(exc, AlreadyExists):
                raise
            # it exists: ours from a pass the cache has not caught up with, or a true hash collision.
            # Ask the apiserver, not the cache: a stale cache must never look like a collision (that
            # would create a second set for the same template)
            existing = await self.client.get(RS, ns, name)
            if _without_hash(existing["spec"]["template"]) == _without_hash(template) and any(
                    r.get("uid") == d["metadata"].get("uid") for r in existing["metadata"].get("ownerReferences") or []):
                return existing, False
            await self.client.patch(DEPLOY, ns, d["metadata"]["name"], {"status": {"collisionCount": collision + 1}},
                                    subresource="status")
            raise
        self.recorder.event(d, "Normal", "ScalingReplicaSet",
                            f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}")
        await self._set_deployment_revision(d, ns, revision)
        return created, True

    async def _set_deployment_revision(self, d: Obj, ns: str, revision: int) -> None:
        ann = (d.get("metadata") or {}).get("annotations") or {}
        if ann.get(REVISION) != str(revision):
            updated = await self.client.patch(DEPLOY, ns, d["metadata"]["name"],
                                              {"metadata": {"annotations": {REVISION: str(revision)}}})
            d["metadata"] = updated["metadata"]

    async def _scale(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        if _replicas(rs) == replicas:
            return rs
        old = _replicas(rs)
        spec = d.get("spec") or {}
        surge, _ = surge_and_unavailable(d)
        want = int(spec.get("replicas", 1))
        updated = await self.client.patch(RS, rs["metadata"].get("namespace"), rs["metadata"]["name"], {
            "metadata": {"annotations": {DESIRED: str(want), MAX_REPLICAS: str(want + surge)}},
            "spec": {"replicas": replicas}})
        verb = "up" if replicas > old else "down"
        self.recorder.event(d, "Normal", "ScalingReplicaSet",
                            f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {replicas}")
        return updated

    # --- strategies --------------------------------------------------------------------------------

    async def _rolling(self, d: Obj, ns: str, new_rs: Obj | None, old_sets: list[Obj]) -> float | None:
        want = int((d.get("spec") or {}).get("replicas", 1))
        surge, unavailable = surge_and_unavailable(d)
        created = False
        if new_rs is None:
            total = sum(_replicas(rs) for rs in old_sets)
            start = max(0, min(want, want + surge - total))
            new_rs, created = await self._ensure_new(d, ns, None, old_sets, start)
        else:
            new_rs, _ = await self._ensure_new(d, ns, new_rs, old_sets, _replicas(new_rs))
        all_sets = [*old_sets, new_rs]
        # scale the new set up (or down to the wanted size)
        if not created and _replicas(new_rs) != want:
            if _replicas(new_rs) > want:
                await self._scale(d, new_rs, want)
                return await self._sync_status(d, all_sets, new_rs, progress=True)
            current = sum(_replicas(rs) for rs in all_sets)
            if current < want + surge:
                target = _replicas(new_rs) + min(want + surge - current, want - _replicas(new_rs))
                new_rs = await self._scale(d, new_rs, target)
                return await self._sync_status(d, [*old_sets, new_rs], new_rs, progress=True)
        # scale old sets down within the availability budget
        old_active = [rs for rs in old_sets if _replicas(rs) > 0]
        if old_active and await self._scale_down_old(d, new_rs, old_sets, want, unavailable):
            return await self._sync_status(d, all_sets, new_rs, progress=True)
        return await self._finish(d, ns, all_sets, new_rs, created)

    async def _scale_down_old(self, d: Obj, new_rs: Obj, old_sets: list[Obj], want: int, unavailable: int) -> bool:
        all_sets = [*old_sets, new_rs]
        all_pods = sum(_replicas(rs) for rs in all_sets)
        min_available = want - unavailable
        new_unavailable = _replicas(new_rs) - _status(new_rs, "availableReplicas")
        budget = all_pods - min_available - new_unavailable
        if budget <= 0:
            return False
        scaled = 0
        ordered = sorted(old_sets, key=_created)
        for rs in ordered:  # first the pods that are not available anyway
            if scaled >= budget:
                break
            unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
            if _replicas(rs) == 0 or unhealthy <= 0:
                continue
            n = min(budget - scaled, unhealthy)
            updated = await self._scale(d, rs, _replicas(rs) - n)
            rs["spec"] = updated["spec"]
            scaled += n
        available = sum(_status(rs, "availableReplicas") for rs in all_sets)
        if available > min_available:
            to_remove = available - min_available
            removed = 0
            for rs in ordered:
                if removed >= to_remove:
                    break
                if _replicas(rs) == 0:
                    continue
                n = min(_replicas(rs), to_remove - removed)
                updated = await self._scale(d, rs, _replicas(rs) - n)
                rs["spec"] = updated["spec"]
                removed += n
            scaled += removed
        return scaled > 0

    async def _recreate(self, d: Obj, ns: str, new_rs: Obj | None, old_sets: list[Obj]) -> float | None:
        active_old = [rs for rs in old_sets if _replicas(rs) > 0]
        if active_old:
            for rs in active_old:
                await self._scale(d, rs, 0)
            return await self._sync_status(d, [*old_sets, *([new_rs] if new_rs else [])], new_rs, progress=True)
        old_uids = {rs["metadata"].get("uid") for rs in old_sets}
        running = [p for p in self.pods.objects(ns) if pod_active(p)
                   and (controller_of(p) or {}).get("uid") in old_uids]
        if running:  # wait until the old pods are gone
            return await self._sync_status(d, [*old_sets, *([new_rs] if new_rs else [])], new_rs, progress=False)
        want = int((d.get("spec") or {}).get("replicas", 1))
        created = False
        if new_rs is None:
            new_rs, created = await self._ensure_new(d, ns, None, old_sets, want)
        else:
            new_rs, _ = await self._ensure_new(d, ns, new_rs, old_sets, _replicas(new_rs))
            if _replicas(new_rs) != want:
                new_rs = await self._scale(d, new_rs, want)
                return await self._sync_status(d, [*old_sets, new_rs], new_rs, progress=True)
        return await self._finish(d, ns, [*old_sets, new_rs], new_rs, created)

    async def _finish(self, d: Obj, ns: str, all_sets: list[Obj], new_rs: Obj, created: bool) -> float | None:
        if self._complete(d, new_rs, all_sets):
            await self._cleanup(d, ns, [rs for rs in all_sets if rs is not new_rs])
        return await self._sync_status(d, all_sets, new_rs, progress=created, created=created)

    # --- scaling events (a replicas change during a rollout, or while paused) -----------------------

    async def _scaling_event(self, d: Obj, new_rs: Obj, old_sets: list[Obj]) -> bool:
        want = str(int((d.get("spec") or {}).get("replicas", 1)))
        active = [rs for rs in [new_rs, *old_sets] if _replicas(rs) > 0]
        if not active or len(active) == 1:
            return False
        stale = [rs for rs in active
                 if ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED) not in (None, want)]
        if not stale:
            return False
        return await self._scale_proportionally(d, new_rs, old_sets)

    async def _scale_proportionally(self, d: Obj, new_rs: Obj | None, old_sets: list[Obj]) -> bool:
        spec = d.get("spec") or {}
        want = int(spec.get("replicas", 1))
        sets = [rs for rs in [*([new_rs] if new_rs else []), *old_sets] if _replicas(rs) > 0]
        if not sets:
            if new_rs is not None and _replicas(new_rs) != want:
                await self._scale(d, new_rs, want)
                return True
            return False
        if len(sets) == 1:
            if _replicas(sets[0]) != want:
                await self._scale(d, sets[0], want)
                return True
            return False
        surge, _ = surge_and_unavailable(d)
        allowed = want + surge
        current = sum(_replicas(rs) for rs in sets)
        delta = allowed - current
        if delta == 0:
            return False
        # each set's share in proportion to its size, the rest to the largest (newest on a tie)
        ordered = sorted(sets, key=lambda rs: (-_replicas(rs), tuple(-ord(c) for c in _created(rs)[0])))
        targets: dict[str, int] = {}
        given = 0
        for rs in ordered:
            share = int(delta * _replicas(rs) / current) if current else 0
            targets[rs["metadata"]["name"]] = share
            given += share
        targets[ordered[0]["metadata"]["name"]] += delta - given
        changed = False
        for rs in ordered:
            n = max(0, _replicas(rs) + targets[rs["metadata"]["name"]])
            if n != _replicas(rs):
                await self._scale(d, rs, n)
                changed = True
        return changed

    # --- status ----------------------------------------------------------------------------------

    def _complete(self, d: Obj, new_rs: Obj | None, all_sets: list[Obj]) -> bool:
        want = int((d.get("spec") or {}).get("replicas", 1))
        if new_rs is None:
            return False
        return (_status(new_rs, "replicas") == want and _status(new_rs, "availableReplicas") == want
                and sum(_status(rs, "replicas") for rs in all_sets) == want)

    async def _cleanup(self, d: Obj, ns: str, old_sets: list[Obj]) -> None:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        dead = sorted([rs for rs in old_sets if _replicas(rs) == 0 and _status(rs, "replicas") == 0
                       and not rs["metadata"].get("deletionTimestamp")], key=lambda rs: (_revision(rs), _created(rs)))
        for rs in dead[:max(0, len(dead) - limit)]:
            try:
                await self.client.delete(RS, ns, rs["metadata"]["name"], preconditions={"uid": rs["metadata"]["uid"]})
            except ApiError as exc:
                if not isinstance(exc, NotFound):  # a Conflict (replaced, or a stale cache) is retried
                    raise

    async def _sync_status(self, d: Obj, all_sets: list[Obj], new_rs: Obj | None, *, progress: bool,
                           created: bool = False) -> float | None:
        spec = d.get("spec") or {}
        want = int(spec.get("replicas", 1))
        _, unavailable = surge_and_unavailable(d)
        old = d.get("status") or {}
        total = sum(_status(rs, "replicas") for rs in all_sets)
        available = sum(_status(rs, "availableReplicas") for rs in all_sets)
        status: Obj = {
            "observedGeneration": (d.get("metadata") or {}).get("generation", 0),
            "replicas": total,
            "updatedReplicas": _status(new_rs, "replicas") if new_rs else 0,
            "readyReplicas": sum(_status(rs, "readyReplicas") for rs in all_sets),
            "availableReplicas": available,
            "unavailableReplicas": max(0, want - available) if total else want,
        }
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        stamp = format_time(self.clock.now())
        conditions = {c.get("type"): dict(c) for c in old.get("conditions") or []}

        def set_condition(type_: str, value: str, reason: str, message: str) -> None:
            prev = conditions.get(type_)
            cond = {"type": type_, "status": value, "reason": reason, "message": message,
                    "lastUpdateTime": stamp, "lastTransitionTime": stamp}
            if prev and prev.get("status") == value:
                cond["lastTransitionTime"] = prev.get("lastTransitionTime", stamp)
                if prev.get("reason") == reason and prev.get("message") == message:
                    cond["lastUpdateTime"] = prev.get("lastUpdateTime", stamp)
            conditions[type_] = cond

        if available >= want - unavailable:
            set_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            set_condition("Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.")
        requeue: float | None = None
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        deadline = spec.get("progressDeadlineSeconds", 600)
        if spec.get("paused"):
            set_condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif new_rs is not None and self._complete(d, new_rs, all_sets):
            set_condition("Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{rs_name}" has successfully progressed.')
        elif new_rs is not None:
            prev = conditions.get("Progressing") or {}
            moved = progress or any(status[k] > old.get(k, 0) for k in
                                    ("updatedReplicas", "readyReplicas", "availableReplicas")) \
                or status["replicas"] < old.get("replicas", 0)
            if created:
                set_condition("Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"')
            elif moved or (prev.get("status") != "True" and prev.get("reason") != "ProgressDeadlineExceeded"):
                set_condition("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
            cond = conditions.get("Progressing") or {}
            if deadline is not None and cond.get("status") == "True" and cond.get("reason") != "NewReplicaSetAvailable":
                since = parse_time(cond.get("lastUpdateTime")) or self.clock.now()
                left = since + int(deadline) - self.clock.now()
                if left <= 0:
                    set_condition("Progressing", "False", "ProgressDeadlineExceeded",
                                  f'ReplicaSet "{rs_name}" has timed out progressing.')
                    self.recorder.event(d, "Warning", "ProgressDeadlineExceeded",
                                        f'ReplicaSet "{rs_name}" has timed out progressing.')
                else:
                    requeue = left + 1
        order = {"Available": 0, "Progressing": 1}
        status["conditions"] = sorted(conditions.values(), key=lambda c: order.get(str(c.get("type")), 9))
        if any(old.get(k) != v for k, v in status.items()):
            try:
                await self.client.update(DEPLOY, d["metadata"].get("namespace"), {**d, "status": status},
                                         subresource="status")
            except NotFound:
                pass  # deleted meanwhile; a Conflict (changed under us) fails the pass and is retried
        return requeue
