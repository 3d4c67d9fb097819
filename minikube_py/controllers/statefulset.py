"""StatefulSet controller: pods with stable ordinal names and their own volumes, as Kubernetes'.

- Pods are `<set>-0 ... <set>-N-1`, with hostname = pod name and subdomain = spec.serviceName, the
  labels `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
  `controller-revision-hash` (the template's revision, `<set>-<hash>`).
- volumeClaimTemplates become PVCs `<template>-<set>-<ordinal>`, created before the pod; the
  persistentVolumeClaimRetentionPolicy decides who owns them: with whenDeleted Delete the set
  (they go with it), with whenScaled Delete the pod a scale-down condemns (they go with it), with
  Retain (the default) nobody, so they stay.
- OrderedReady (the default): one pod at a time, in ordinal order, each waiting for the previous to
  be Running and Ready; any unhealthy pod halts the set.  Parallel: all at once.
- Scale-down removes the highest ordinals first (one at a time under OrderedReady).
- RollingUpdate replaces pods whose revision is old from the highest ordinal down to
  `partition`, one at a time, each after the previous one is Ready again; OnDelete waits for the
  user to delete pods.
- Status: replicas, ready/available/current/updated counts, current and update revisions.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..api import kinds
from ..api.errors import AlreadyExists, ApiError, NotFound
from ..client.informer import Informer, is_resync
from ..client.tracing import observe, want
from .base import POD, Controller, ControllerContext, namespaced, pod_available, pod_ready
from .claims import controller_of, delete_owned, index_by_controller, owned, owner_ref
from .deployment import template_hash

Obj = dict[str, Any]
STS = kinds.require("apps/v1", "StatefulSet")
PVC = kinds.require("v1", "PersistentVolumeClaim")
REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def _ordinal(set_name: str, pod_name: str) -> int | None:
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def _healthy(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)


def _terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class StatefulSetController(Controller):
    name = "statefulset-controller"
    kind = "StatefulSet"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets: Informer = ctx.informers.get(STS)
        self.primary = self.sets
        self.pods: Informer = ctx.informers.get(POD)
        self.claims: Informer = ctx.informers.get(PVC)
        index_by_controller(self.pods)
        self.sets.add_handler(lambda kind, obj, old: self.enqueue(obj))
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if is_resync(kind, pod, old):
            return  # the sets' own resync covers them
        ref = controller_of(pod)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.add(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")

    def revision(self, sts: Obj) -> str:
        return f"{sts['metadata']['name']}-{template_hash((sts.get('spec') or {}).get('template') or {})}"

    # --- pods and claims -------------------------------------------------------------------------

    def new_pod(self, sts: Obj, ordinal: int, revision: str) -> Obj:
        name = f"{sts['metadata']['name']}-{ordinal}"
        spec = sts.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        meta = template.get("metadata") or {}
        labels = {**(meta.get("labels") or {}), POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                  REVISION_LABEL: revision}
        pod_spec = template.get("spec") or {}
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod_spec.get("volumes") or []
                   if v.get("name") not in {(c.get("metadata") or {}).get("name")
                                            for c in spec.get("volumeClaimTemplates") or []}]
        for claim in spec.get("volumeClaimTemplates") or []:
            cname = (claim.get("metadata") or {}).get("name")
            volumes.append({"name": cname, "persistentVolumeClaim": {"claimName": f"{cname}-{name}"}})
        if volumes:
            pod_spec["volumes"] = volumes
        out_meta: Obj = {"name": name, "namespace": sts["metadata"].get("namespace"), "labels": labels,
                         "ownerReferences": [owner_ref(sts)]}
        if meta.get("annotations"):
            out_meta["annotations"] = meta["annotations"]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": out_meta, "spec": pod_spec}

    async def _ensure_claims(self, sts: Obj, ordinal: int) -> None:
        spec = sts.get("spec") or {}
        ns = sts["metadata"].get("namespace")
        pod_name = f"{sts['metadata']['name']}-{ordinal}"
        labels = dict(((spec.get("selector") or {}).get("matchLabels")) or {})
        for claim in spec.get("volumeClaimTemplates") or []:
            cmeta = claim.get("metadata") or {}
            name = f"{cmeta.get('name')}-{pod_name}"
            if self.claims.get(f"{ns}/{name}") is not None:
                continue
            claim_meta: Obj = {"name": name, "namespace": ns, "labels": {**(cmeta.get("labels") or {}), **labels}}
            policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
            if policy.get("whenDeleted") == "Delete":  # a new pod is never condemned: the set's claim
                claim_meta["ownerReferences"] = [owner_ref(sts)]
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                    "spec": copy.deepcopy(claim.get("spec") or {})}
            try:
                await self.client.create(PVC, ns, body)
                self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                    f"create Claim {name} Pod {pod_name} in StatefulSet {sts['metadata']['name']} "
                                    "success")
            except AlreadyExists:
                pass

    @staticmethod
    def claim_owners(sts: Obj, pod: Obj, condemned: bool) -> list[Obj]:
        """The owner references a pod's claims carry under the set's persistentVolumeClaimRetentionPolicy
        (kube's updateClaimOwnerRefForSetAndPod): the claim of a pod condemned by a scale-down is the pod's
        when whenScaled is Delete, so it goes with the pod; otherwise it is the set's when whenDeleted is
        Delete, so it goes with the set; Retain leaves it unowned."""
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if condemned and policy.get("whenScaled") == "Delete":
            return [owner_ref({"apiVersion": "v1", "kind": "Pod", **pod})]
        if policy.get("whenDeleted") == "Delete":
            return [owner_ref(sts)]
        return []

    async def _own_claims(self, sts: Obj, pods: dict[int, Obj], replicas: int) -> None:
        """Bring each existing claim's references to the set and its pod in line with the retention
        policy; a claim another controller owns loses ours and gains none, as in Kubernetes."""
        ns, set_name = sts["metadata"].get("namespace"), sts["metadata"]["name"]
        for ordinal, pod in sorted(pods.items()):
            ours = {sts["metadata"].get("uid"), pod["metadata"].get("uid")}
            for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
                claim = self.claims.get(f"{ns}/{(template.get('metadata') or {}).get('name')}-{set_name}-{ordinal}")
                if claim is None or claim["metadata"].get("deletionTimestamp"):
                    continue
                refs = claim["metadata"].get("ownerReferences") or []
                kept = [r for r in refs if r.get("uid") not in ours]
                foreign = any(r.get("controller") for r in kept)
                wanted = kept if foreign else kept + self.claim_owners(sts, pod, ordinal >= replicas)
                if wanted == refs:
                    continue
                try:
                    await self.client.patch(PVC, ns, claim["metadata"]["name"], {"metadata": {
                        "ownerReferences": wanted or None, "resourceVersion": claim["metadata"].get("resourceVersion")}})
                except NotFound:
                    pass

    async def _create_pod(self, sts: Obj, ordinal: int, revision: str) -> None:
        await self._ensure_claims(sts, ordinal)
        pod = self.new_pod(sts, ordinal, revision)
        try:
            await self.client.create(POD, sts["metadata"].get("namespace"), pod)
        except AlreadyExists:
            return  # made by an earlier pass whose answer was lost: the name is the ordinal's, never two
        except ApiError as exc:
            self.recorder.event(sts, "Warning", "FailedCreate",
                                f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                                f"failed error: {exc}")
            raise
        self.recorder.event(sts, "Normal", "SuccessfulCreate",
                            f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                            "successful")

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            if not await delete_owned(self.client, POD, pod):
                return  # gone already (a Conflict, a new pod holding the name or a stale cache, is retried)
        except ApiError as exc:
            self.recorder.event(sts, "Warning", "FailedDelete",
                                f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} failed error: "
                                f"{exc}")
            raise
        self.recorder.event(sts, "Normal", "SuccessfulDelete",
                            f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: Any) -> float | None:
        sts = self.sets.get(str(key))
        if sts is None:
            return None
        ns, name = namespaced(str(key))
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
        update_rev = self.revision(sts)
        current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
        pods: dict[int, Obj] = {}
        for pod in owned(self.pods, sts):
            ordinal = _ordinal(name, pod["metadata"]["name"])
            if ordinal is not None:
                pods[ordinal] = pod
        observe(pods=",".join(str(o) for o in sorted(pods)) or "none", revision=current_rev)
        want(replicas=replicas, revision=update_rev, policy="OrderedReady" if ordered else "Parallel")
        error: ApiError | None = None
        if not (sts.get("metadata") or {}).get("deletionTimestamp"):
            try:
                await self._manage(sts, pods, replicas, ordered, update_rev, current_rev)
            except ApiError as exc:
                error = exc  # Kubernetes writes status on every pass, then returns the error
        again = await self._status(sts, pods, replicas, update_rev, current_rev)
        if error is not None:
            raise error
        return again

    async def _manage(self, sts: Obj, pods: dict[int, Obj], replicas: int, ordered: bool, update_rev: str,
                      current_rev: str) -> None:
        spec = sts.get("spec") or {}
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        await self._own_claims(sts, pods, replicas)
        # 1. the pods that should exist, in ordinal order
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                # as newVersionedStatefulSetPod: only RollingUpdate keeps ordinals below the partition
                # at the current revision; OnDelete recreates a deleted pod at the update revision
                revision = current_rev if rolling and ordinal < partition else update_rev
                await self._create_pod(sts, ordinal, revision)
                if ordered:
                    return
                continue
            if _finished(pod):
                await self._delete_pod(sts, pod)  # recreated on a later pass
                if ordered:
                    return
                continue
            if ordered and (_terminating(pod) or not _healthy(pod)):
                return  # OrderedReady: wait for this one before going on
        # 2. scale down: the highest ordinals first
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        if condemned and ordered and any(not _healthy(pods[o]) or _terminating(pods[o])
                                         for o in range(replicas) if o in pods):
            return  # halt while unhealthy
        for ordinal in condemned:
            pod = pods[ordinal]
            if _terminating(pod):
                if ordered:
                    return
                continue
            await self._delete_pod(sts, pod)
            if ordered:
                return
        if condemned:
            return
        # 3. rolling update: from the highest ordinal down to the partition, one at a time
        if not rolling:
            return
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is None or _terminating(pod):
                return
            if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != update_rev:
                await self._delete_pod(sts, pod)
                return
            if not _healthy(pod):
                return

    async def _status(self, sts: Obj, pods: dict[int, Obj], replicas: int, update_rev: str,
                      current_rev: str) -> float | None:
        spec = sts.get("spec") or {}
        live = [p for p in pods.values() if not _finished(p)]
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        ready = [p for p in live if pod_ready(p)]
        available = [p for p in ready if pod_available(p, min_ready, now)]
        updated = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == update_rev]
        current = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current_rev]
        if len(updated) == replicas and len([p for p in ready if p in updated]) == replicas:
            current_rev, current = update_rev, updated  # the rollout is complete
        status: Obj = {"observedGeneration": sts["metadata"].get("generation", 0), "replicas": len(live),
                       "readyReplicas": len(ready), "availableReplicas": len(available),
                       "currentReplicas": len(current), "updatedReplicas": len(updated),
                       "currentRevision": current_rev, "updateRevision": update_rev, "collisionCount": 0}
        old = sts.get("status") or {}
        if any(old.get(k) != v for k, v in status.items()):
            try:
                await self.client.update(STS, sts["metadata"].get("namespace"), {**sts, "status": status},
                                         subresource="status")
            except NotFound:
                pass  # deleted meanwhile
        return float(min_ready) if min_ready and len(available) < len(ready) else None
