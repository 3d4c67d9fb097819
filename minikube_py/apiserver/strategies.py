"""Per-kind storage rules, kept where kube-apiserver keeps them: in each resource's REST strategy
and in its admission plugins.  The generic registry (registry.py) calls these hooks at fixed
points of every write and never asks which kind it holds; a kind's strategy is found by its entry
in the kinds table, and a kind without one is stored as it comes (`Strategy` itself).

```
 create  decode, validate -> admit -> (dry run ends) -> reserve -> write  (failed: undo)
 update  merge system fields -> reserve_update -> validate -> write -> commit  (no-op or failed: undo)
 delete  check_delete -> grace_period, holds_deletion -> mark_deleting + write | remove -> after_delete
```
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson

from ..api import errors as E
from ..api import kinds
from ..api.kinds import KindInfo
from ..api.pod import service_account_names
from ..store.base import Store
from .allocator import AllocationError, ServiceAllocator

Obj = dict[str, Any]
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
_STORAGE_CLASSES = kinds.require("storage.k8s.io/v1", "StorageClass")
_SERVICE_ACCOUNTS = kinds.require("v1", "ServiceAccount")
DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


class Reservation:
    """What a write holds outside its object (a Service's cluster IP and node ports); this one holds nothing."""

    async def undo(self) -> None:
        """The write did not happen (a lost race, an invalid object, a no-op): give it back."""

    async def commit(self, written: Obj) -> None:
        """The write happened: let go of what only the old object held."""


NOTHING = Reservation()


class Strategy:
    """A kind without storage rules of its own; each kind's subclass overrides what it needs."""

    async def admit(self, obj: Obj) -> None:
        """Mutating and validating admission of a new object: after validation, on a dry run too (as kube
        admits one: its refusals and defaults show in the preview); no side effects."""

    async def reserve(self, obj: Obj) -> Reservation:
        """Before a new object is written; may fill in what it reserved."""
        return NOTHING

    async def reserve_update(self, cur: Obj, new: Obj, *, subresource: str) -> Reservation:
        """Before an update is validated and written (never on a dry run); may fill in `new`."""
        return NOTHING

    def check_delete(self, name: str) -> None:
        """Raise to refuse a DELETE outright."""

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds a deleted object lives on, waiting for someone to confirm it is gone."""
        return 0

    def holds_deletion(self, obj: Obj) -> bool:
        """Finalizers of the kind's own, beyond metadata.finalizers, that keep a deleted object."""
        return False

    def mark_deleting(self, obj: Obj) -> None:
        """The object is being marked for deletion and stays for now."""

    async def after_delete(self, obj: Obj) -> None:
        """The object is gone from the store."""


PLAIN = Strategy()


class NamespaceStrategy(Strategy):
    """The namespaces every cluster needs cannot go; a deleted one terminates until the namespace
    controller has emptied it and cleared spec.finalizers."""

    def check_delete(self, name: str) -> None:
        if name in IMMORTAL_NAMESPACES:
            raise E.Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                              {"name": name, "kind": "namespaces"})

    def holds_deletion(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def mark_deleting(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class PodStrategy(Strategy):
    def __init__(self, store: Store, default_toleration_seconds: int) -> None:
        self.store = store
        self.default_toleration_seconds = default_toleration_seconds

    async def admit(self, obj: Obj) -> None:
        await admit_service_account(self.store, obj)
        add_default_tolerations(obj, self.default_toleration_seconds)

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Only pods bound to a node and not finished terminate gracefully (their kubelet confirms)."""
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, int(requested))
        return int(spec.get("terminationGracePeriodSeconds", 30) or 0)


class ClaimStrategy(Strategy):
    """DefaultStorageClass admission: a claim that names no class gets the default one."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def admit(self, obj: Obj) -> None:
        if (obj.get("spec") or {}).get("storageClassName") is None:
            default = await self._default_storage_class()
            if default:
                obj.setdefault("spec", {})["storageClassName"] = default

    async def _default_storage_class(self) -> str | None:
        listing = await self.store.list(_STORAGE_CLASSES.prefix(None))
        for kv in listing.items:
            sc = orjson.loads(kv.value)
            if ((sc.get("metadata") or {}).get("annotations") or {}).get(
                    "storageclass.kubernetes.io/is-default-class") == "true":
                return str(sc["metadata"]["name"])
        return None


class _ServiceReservation(Reservation):
    def __init__(self, allocator: ServiceAllocator, owner: str, done: list[tuple[str, Any]],
                 old: Obj | None = None) -> None:
        self.allocator, self.owner, self.done, self.old = allocator, owner, done, old

    async def undo(self) -> None:
        await self.allocator.rollback(self.owner, self.done)

    async def commit(self, written: Obj) -> None:
        if self.old is not None:
            await self.allocator.after_update(self.old, written)


class ServiceStrategy(Strategy):
    """Cluster IPs and node ports, assigned as the real apiserver assigns them (see allocator.py)."""

    def __init__(self, allocator: ServiceAllocator) -> None:
        self.allocator = allocator

    async def reserve(self, obj: Obj) -> Reservation:
        meta = obj["metadata"]
        done = await self._allocated(meta["name"], self.allocator.on_create(obj))
        return _ServiceReservation(self.allocator, ServiceAllocator.owner(meta.get("namespace"), meta["name"]), done)

    async def reserve_update(self, cur: Obj, new: Obj, *, subresource: str) -> Reservation:
        if subresource == "status":
            return NOTHING
        keep_allocated_values(cur, new)
        meta = cur["metadata"]
        done = await self._allocated(meta["name"], self.allocator.on_update(cur, new))
        return _ServiceReservation(self.allocator, ServiceAllocator.owner(meta.get("namespace"), meta["name"]), done,
                                   cur)

    async def after_delete(self, obj: Obj) -> None:
        await self.allocator.on_delete(obj)

    @staticmethod
    async def _allocated(name: str, allocation: Awaitable[list[tuple[str, Any]]]) -> list[tuple[str, Any]]:
        try:
            return await allocation
        except AllocationError as exc:
            raise E.Invalid.of("Service", "", name, [exc.error]) from None


def strategies(store: Store, *, default_toleration_seconds: int) -> dict[KindInfo, Strategy]:
    """The strategy of each kind that has storage rules, for one registry over `store`."""
    return {
        kinds.require("v1", "Namespace"): NamespaceStrategy(),
        kinds.require("v1", "Pod"): PodStrategy(store, default_toleration_seconds),
        kinds.require("v1", "PersistentVolumeClaim"): ClaimStrategy(store),
        kinds.require("v1", "Service"): ServiceStrategy(ServiceAllocator(store)),
    }


async def admit_service_account(store: Store, pod: Obj) -> None:
    """Kubernetes' ServiceAccount admission, without tokens: a pod that names no service account runs
    as `default` (and `serviceAccount`, the deprecated alias, says the same), and one naming an
    account that does not exist is refused with kube's message.  A missing `default` is let
    through: kube waits about a second for the serviceaccounts controller and then refuses, but
    this apiserver also serves without a controller manager (`--no-control-plane`), where
    no `default` ever appears."""
    meta, spec = pod.get("metadata") or {}, pod.setdefault("spec", {})
    if MIRROR_POD_ANNOTATION in (meta.get("annotations") or {}):
        return  # a kubelet's static pod keeps the spec its file gave (kube never changes it)
    # the model has already taken the deprecated alias into the name; admission only adds the default
    name = spec.get("serviceAccountName") or DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccountName"], spec["serviceAccount"] = service_account_names(name, spec.get("serviceAccount"))
    if name == DEFAULT_SERVICE_ACCOUNT:
        return
    namespace = str(meta.get("namespace") or "")
    if await store.get(_SERVICE_ACCOUNTS.key(namespace, name)) is None:
        raise E.Forbidden(f'pods "{meta.get("name", "")}" is forbidden: error looking up service account '
                          f'{namespace}/{name}: serviceaccount "{name}" not found',
                          {"name": str(meta.get("name", "")), "kind": "pods"})


def add_default_tolerations(pod: Obj, seconds: int) -> None:
    """Kubernetes' DefaultTolerationSeconds admission: a pod tolerates a not-ready or unreachable
    node for `seconds` (300 by default) before the node lifecycle controller evicts it."""
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if any(t.get("key") == key and t.get("effect") in ("NoExecute", None, "") for t in tolerations) or any(
                t.get("operator") == "Exists" and not t.get("key") and t.get("effect") in ("NoExecute", None, "")
                for t in tolerations):
            continue
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
    spec["tolerations"] = tolerations


def keep_allocated_values(cur: Obj, new: Obj) -> None:
    """An update that leaves out clusterIP or nodePorts keeps the allocated ones (Kubernetes does
    this, so `kubectl apply` of a file without them works)."""
    ospec, nspec = cur.get("spec") or {}, new.get("spec")
    if not isinstance(nspec, dict):
        return
    if nspec.get("type", ospec.get("type")) == "ExternalName":
        return
    if not nspec.get("clusterIP") and ospec.get("clusterIP"):
        nspec["clusterIP"] = ospec["clusterIP"]
    if not nspec.get("clusterIPs") and ospec.get("clusterIPs"):
        nspec["clusterIPs"] = list(ospec["clusterIPs"])
    for family in ("ipFamilies", "ipFamilyPolicy"):
        if family not in nspec and family in ospec:
            nspec[family] = ospec[family]
    if nspec.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in ospec.get("ports") or []}
        for p in nspec.get("ports") or []:
            if isinstance(p, dict) and not p.get("nodePort"):
                held = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                if held:
                    p["nodePort"] = held
