"""Persistent volumes: PVC to PV binding, a default StorageClass and a node-local provisioner.

- The default StorageClass `standard` (provisioner `minikube-py/local-path`, volumeBindingMode
  WaitForFirstConsumer, reclaimPolicy Delete) is created when no default class exists; the
  apiserver gives it to new claims that name no class (DefaultStorageClass admission).
- A pending claim binds to the smallest Available volume that fits (class, access modes,
  capacity, selector), both sides recording the binding, as Kubernetes' binder does.
- A claim of a local-path class waits for its first consumer: once a pod using it is bound to a
  node, a PV `pvc-<uid>` is provisioned at `/var/lib/minikube-py/local-path/<pv>_<ns>_<claim>` on
  that node (nodeAffinity pins it there; the scheduler keeps later pods of the claim on it).
- A claim deleted from a bound volume leaves it Released; a Delete-policy volume of ours is
  deleted (the node agent removes its directory).
"""

from __future__ import annotations

from typing import Any

from ..api import kinds
from ..api.errors import AlreadyExists, ApiError, NotFound
from ..api.quantity import amount
from ..client.informer import Informer
from .base import POD, Controller, ControllerContext, selector_matches

Obj = dict[str, Any]
PVC = kinds.require("v1", "PersistentVolumeClaim")
PV = kinds.require("v1", "PersistentVolume")
SC = kinds.require("storage.k8s.io/v1", "StorageClass")
PROVISIONER = "minikube-py/local-path"
DEFAULT_CLASS = "standard"
DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
LOCAL_PATH_ROOT = "/var/lib/minikube-py/local-path"


def _size(value: Any) -> int:
    return amount(value or 0, cpu=False)


def _claim_volumes(pod: Obj) -> list[str]:
    return [str(v["persistentVolumeClaim"]["claimName"]) for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


class VolumeController(Controller):
    name = "persistentvolume-binder"
    kind = "PersistentVolumeClaim"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.claims: Informer = ctx.informers.get(PVC)
        self.primary = self.claims
        self.volumes: Informer = ctx.informers.get(PV)
        self.classes: Informer = ctx.informers.get(SC)
        self.pods: Informer = ctx.informers.get(POD)
        self._default_checked = False
        self.claims.add_handler(lambda kind, obj, old: self._on_claim(kind, obj))
        self.volumes.add_handler(lambda kind, obj, old: self._wake_pending())
        self.classes.add_handler(lambda kind, obj, old: self._wake_pending())
        self.pods.add_handler(self._on_pod)

    def _on_claim(self, kind: str, claim: Obj) -> None:
        if kind == "DELETED":
            name = (claim.get("spec") or {}).get("volumeName")
            if name:
                self.add(f"pv:{name}")
            return
        self.enqueue(claim)

    def _wake_pending(self) -> None:
        for claim in self.claims.objects():
            if (claim.get("status") or {}).get("phase") != "Bound":
                self.enqueue(claim)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if kind == "DELETED" or not (pod.get("spec") or {}).get("nodeName"):
            return
        ns = (pod.get("metadata") or {}).get("namespace")
        for name in _claim_volumes(pod):
            self.add(f"{ns}/{name}")

    async def on_start(self) -> None:
        await self._ensure_default_class()

    def trace_subject(self, key: Any) -> tuple[str, str]:
        key = str(key)
        return ("PersistentVolume", key[3:]) if key.startswith("pv:") else (self.kind, key)

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: Any) -> float | None:
        if not self._default_checked:
            await self._ensure_default_class()
        key = str(key)
        if key.startswith("pv:"):
            await self._release(key[3:])
            return None
        claim = self.claims.get(key)
        if claim is None or (claim.get("metadata") or {}).get("deletionTimestamp"):
            return None
        spec, status = claim.get("spec") or {}, claim.get("status") or {}
        if spec.get("volumeName"):
            pv = self.volumes.get(str(spec["volumeName"]))
            if pv is not None and status.get("phase") != "Bound":
                await self._bind(claim, pv)
            return None
        pv = self._find_volume(claim)
        if pv is not None:
            await self._bind(claim, pv)
            return None
        cls = self.classes.get(str(spec.get("storageClassName") or ""))
        if cls is None or cls.get("provisioner") != PROVISIONER:
            return None  # nothing fits and nothing of ours provisions: wait for a volume to appear
        node = self._consumer_node(claim)
        if node is None and cls.get("volumeBindingMode", "Immediate") == "WaitForFirstConsumer":
            return None  # "waiting for first consumer to be created before binding"
        if node is None:
            return None  # local volumes need a node: Immediate local-path claims wait for a pod too
        pv = await self._provision(claim, cls, node)
        if pv is not None:
            await self._bind(claim, pv)
        return None

    async def _ensure_default_class(self) -> None:
        if any(((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"
               for c in self.classes.objects()):
            self._default_checked = True
            return
        body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_ANNOTATION: "true"}},
                "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}
        try:
            await self.client.create(SC, None, body)
        except ApiError as exc:
            if not isinstance(exc, AlreadyExists):
                raise  # not checked yet: the retry of this pass tries again
        self._default_checked = True

    def _find_volume(self, claim: Obj) -> Obj | None:
        spec = claim.get("spec") or {}
        want_class = spec.get("storageClassName") or ""
        want_modes = set(spec.get("accessModes") or [])
        want_size = _size(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        selector = spec.get("selector")
        best: Obj | None = None
        for pv in self.volumes.objects():
            pspec, pstatus = pv.get("spec") or {}, pv.get("status") or {}
            ref = pspec.get("claimRef") or {}
            if ref and (ref.get("uid") != claim["metadata"].get("uid") and ref.get("name")):
                continue
            if pstatus.get("phase") not in (None, "", "Available", "Pending") and not ref:
                continue
            if (pspec.get("storageClassName") or "") != want_class:
                continue
            if not want_modes <= set(pspec.get("accessModes") or []):
                continue
            size = _size((pspec.get("capacity") or {}).get("storage"))
            if size < want_size:
                continue
            if selector and not selector_matches(selector, (pv.get("metadata") or {}).get("labels")):
                continue
            if best is None or size < _size(((best.get("spec") or {}).get("capacity") or {}).get("storage")):
                best = pv
        return best

    def _consumer_node(self, claim: Obj) -> str | None:
        ns, name = claim["metadata"].get("namespace"), claim["metadata"]["name"]
        for pod in self.pods.objects(ns):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and name in _claim_volumes(pod):
                return str(node)
        return None

    async def _provision(self, claim: Obj, cls: Obj, node: str) -> Obj | None:
        meta, spec = claim["metadata"], claim.get("spec") or {}
        name = f"pvc-{meta.get('uid')}"
        body = {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                             "labels": {"minikube-py/node": node}},
                "spec": {"capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get(
                             "storage", "1Gi")},
                         "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                         "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy") or "Delete",
                         "storageClassName": cls["metadata"]["name"], "volumeMode": spec.get("volumeMode", "Filesystem"),
                         "hostPath": {"path": f"{LOCAL_PATH_ROOT}/{name}_{meta.get('namespace')}_{meta['name']}",
                                      "type": "DirectoryOrCreate"},
                         "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                                      "namespace": meta.get("namespace"), "uid": meta.get("uid")},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}
        try:
            pv = await self.client.create(PV, None, body)
        except ApiError as exc:
            if not isinstance(exc, AlreadyExists):
                raise
            return self.volumes.get(name)
        self.recorder.event(claim, "Normal", "ProvisioningSucceeded",
                            f"Successfully provisioned volume {name} on node {node}")
        return pv

    async def _bind(self, claim: Obj, pv: Obj) -> None:
        cmeta, pmeta = claim["metadata"], pv["metadata"]
        ns = cmeta.get("namespace")
        ref = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": cmeta["name"], "namespace": ns,
               "uid": cmeta.get("uid")}
        try:
            if (pv.get("spec") or {}).get("claimRef", {}).get("uid") != cmeta.get("uid"):
                await self.client.patch(PV, None, pmeta["name"], {
                    "spec": {"claimRef": ref}, "metadata": {"resourceVersion": pmeta.get("resourceVersion")}})
            await self.client.patch(PV, None, pmeta["name"], {"status": {"phase": "Bound"}}, subresource="status")
            if (claim.get("spec") or {}).get("volumeName") != pmeta["name"]:
                await self.client.patch(PVC, ns, cmeta["name"], {
                    "spec": {"volumeName": pmeta["name"]},
                    "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}})
            pspec = pv.get("spec") or {}
            await self.client.patch(PVC, ns, cmeta["name"], {"status": {
                "phase": "Bound", "accessModes": pspec.get("accessModes"), "capacity": pspec.get("capacity")}},
                subresource="status")
        except NotFound:
            return  # gone meanwhile; a Conflict (changed meanwhile) fails the pass and is retried

    async def _release(self, pv_name: str) -> None:
        pv = self.volumes.get(pv_name)
        if pv is None:
            return
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is not None and (claim.get("metadata") or {}).get("uid") == ref.get("uid"):
            return  # still claimed
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        ours = ((pv.get("metadata") or {}).get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") == PROVISIONER
        try:
            if policy == "Delete" and ours:
                await self.client.delete(PV, None, pv_name)
            else:
                await self.client.patch(PV, None, pv_name, {"status": {"phase": "Released"}}, subresource="status")
        except ApiError as exc:
            if not isinstance(exc, NotFound):
                raise
