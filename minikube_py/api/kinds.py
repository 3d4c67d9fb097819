"""The kinds table: one entry per kind drives routes, discovery, openapi, tables and the client.

Adding a kind is one `KindInfo` here plus its model (and, for Table columns other than Name and
Created At, its printer); nothing else needs to learn about it.  The apiserver's per-kind storage
rules (apiserver/strategies.py) are looked up by the entry, never by the kind's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import apps, coordination, core, discovery, events, networking, printers, storage
from .meta import K8sObject

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredAs:
    """A kind whose objects live in the store as another kind's: one object, two API views (kube's
    events.k8s.io/v1 and core/v1 Events).  The apiserver converts with these on every read and write."""

    api_version: str  # of the stored kind
    kind: str
    to_storage: Callable[[Obj], Obj]
    from_storage: Callable[[Obj], Obj]


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    namespaced: bool
    model: type[K8sObject]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = field(default_factory=frozenset)  # "status", "scale", ...
    storage_resource: str = ""  # key prefix under /registry/; defaults to plural
    printer: printers.Printer = printers.DEFAULT  # the Table columns of `kubectl get`
    # the kind's message in apiserver/proto_schema.MESSAGES when kubectl may send it as protobuf
    proto_message: str = ""
    stored_as: StoredAs | None = None  # kept in the store as another kind (storage_resource says where)
    # kube's ReturnDeletedObject (pkg/registry/*/storage): a DELETE that removes the object at once
    # answers with the object itself; without it, with a Status naming it
    return_deleted_object: bool = False
    # kube's APILifecycleDeprecated/Replacement on a GA kind: every request to it gets a Warning
    deprecated_in: tuple[int, int] | None = None  # (major, minor)
    replacement: tuple[str, str] | None = None  # (apiVersion, kind) to use instead

    @property
    def deprecation_warning(self) -> str:
        """The warning kube-apiserver adds to every request of a deprecated kind ("" when not deprecated)."""
        if self.deprecated_in is None:
            return ""
        text = f"{self.api_version} {self.kind} is deprecated in v{self.deprecated_in[0]}.{self.deprecated_in[1]}+"
        if self.replacement is not None:
            text += f"; use {self.replacement[0]} {self.replacement[1]}"
        return text

    def from_storage(self, obj: Obj) -> Obj:
        """A stored object as this kind shows it (the object itself for most kinds)."""
        return obj if self.stored_as is None else self.stored_as.from_storage(obj)

    def to_storage(self, obj: Obj) -> Obj:
        """An object of this kind as the store keeps it."""
        return obj if self.stored_as is None else self.stored_as.to_storage(obj)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def resource_prefix(self) -> str:
        return f"/registry/{self.storage_resource or self.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.resource_prefix}{namespace}/{name}"
        return f"{self.resource_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        """Key prefix of a list: one namespace, or all of them when namespace is None."""
        if self.namespaced and namespace:
            return f"{self.resource_prefix}{namespace}/"
        return self.resource_prefix

    @property
    def qualified_plural(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def verbs(self) -> list[str]:
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


_S = frozenset({"status"})
_SS = frozenset({"status", "scale"})
_ALL = ("all",)

KINDS: tuple[KindInfo, ...] = (
    # core/v1
    KindInfo("Namespace", "", "v1", "namespaces", "namespace", False, core.Namespace, ("ns",), (),
             frozenset({"status", "finalize"}), printer=printers.NAMESPACE, proto_message="Namespace", return_deleted_object=True),
    KindInfo("Node", "", "v1", "nodes", "node", False, core.Node, ("no",), (), _S,
             printer=printers.NODE, proto_message="Node"),
    KindInfo("Pod", "", "v1", "pods", "pod", True, core.Pod, ("po",), _ALL,
             frozenset({"status", "binding", "log", "exec", "attach", "portforward", "eviction"}),
             printer=printers.POD, proto_message="Pod", return_deleted_object=True),
    KindInfo("Service", "", "v1", "services", "service", True, core.Service, ("svc",), _ALL, _S,
             printer=printers.SERVICE, proto_message="Service", return_deleted_object=True),
    KindInfo("Endpoints", "", "v1", "endpoints", "endpoints", True, core.Endpoints, ("ep",),
             printer=printers.ENDPOINTS, proto_message="Endpoints",
             deprecated_in=(1, 33), replacement=("discovery.k8s.io/v1", "EndpointSlice")),  # KEP-4974
    KindInfo("ConfigMap", "", "v1", "configmaps", "configmap", True, core.ConfigMap, ("cm",),
             printer=printers.CONFIGMAP, proto_message="ConfigMap"),
    KindInfo("Secret", "", "v1", "secrets", "secret", True, core.Secret,
             printer=printers.SECRET, proto_message="Secret"),
    KindInfo("PersistentVolume", "", "v1", "persistentvolumes", "persistentvolume", False, core.PersistentVolume,
             ("pv",), (), _S, printer=printers.PV, proto_message="PersistentVolume", return_deleted_object=True),
    KindInfo("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", "persistentvolumeclaim", True,
             core.PersistentVolumeClaim, ("pvc",), (), _S, printer=printers.PVC, proto_message="PersistentVolumeClaim", return_deleted_object=True),
    KindInfo("Event", "", "v1", "events", "event", True, core.Event, ("ev",),
             printer=printers.EVENT, proto_message="Event"),
    KindInfo("ServiceAccount", "", "v1", "serviceaccounts", "serviceaccount", True, core.ServiceAccount, ("sa",),
             printer=printers.SERVICEACCOUNT, proto_message="ServiceAccount",
             return_deleted_object=True),
    # apps/v1
    KindInfo("Deployment", "apps", "v1", "deployments", "deployment", True, apps.Deployment, ("deploy",), _ALL, _SS,
             printer=printers.DEPLOYMENT, proto_message="Deployment"),
    KindInfo("ReplicaSet", "apps", "v1", "replicasets", "replicaset", True, apps.ReplicaSet, ("rs",), _ALL, _SS,
             printer=printers.REPLICASET, proto_message="ReplicaSet"),
    KindInfo("StatefulSet", "apps", "v1", "statefulsets", "statefulset", True, apps.StatefulSet, ("sts",), _ALL, _SS,
             printer=printers.STATEFULSET),
    # networking.k8s.io/v1
    KindInfo("Ingress", "networking.k8s.io", "v1", "ingresses", "ingress", True, networking.Ingress, ("ing",), (),
             _S, printer=printers.INGRESS, proto_message="Ingress"),
    KindInfo("IngressClass", "networking.k8s.io", "v1", "ingressclasses", "ingressclass", False,
             networking.IngressClass, printer=printers.INGRESSCLASS, proto_message="IngressClass"),
    # discovery.k8s.io/v1
    KindInfo("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", "endpointslice", True,
             discovery.EndpointSlice, printer=printers.ENDPOINTSLICE),
    # storage.k8s.io/v1
    KindInfo("StorageClass", "storage.k8s.io", "v1", "storageclasses", "storageclass", False, storage.StorageClass,
             ("sc",), printer=printers.STORAGECLASS, return_deleted_object=True),
    # coordination.k8s.io/v1
    KindInfo("Lease", "coordination.k8s.io", "v1", "leases", "lease", True, coordination.Lease,
             printer=printers.LEASE),
    # events.k8s.io/v1: a view of the core/v1 Events, stored with them
    KindInfo("Event", "events.k8s.io", "v1", "events", "event", True, events.Event, ("ev",), (), frozenset(),
             "events", printer=printers.EVENT, stored_as=StoredAs("v1", "Event", events.to_core, events.from_core)),
)

BY_GROUP_VERSION: dict[str, list[KindInfo]] = {}
for _k in KINDS:
    BY_GROUP_VERSION.setdefault(_k.api_version, []).append(_k)

_BY_GV_PLURAL: dict[tuple[str, str], KindInfo] = {(k.api_version, k.plural): k for k in KINDS}
_BY_GV_KIND: dict[tuple[str, str], KindInfo] = {(k.api_version, k.kind): k for k in KINDS}


def by_resource(api_version: str, plural: str) -> KindInfo | None:
    return _BY_GV_PLURAL.get((api_version, plural))


def by_kind(api_version: str, kind: str) -> KindInfo | None:
    return _BY_GV_KIND.get((api_version, kind))


class UnknownKind(LookupError):
    """A kind the code names that the table lacks: a programming error, not a client's."""


def require(api_version: str, kind: str) -> KindInfo:
    """The entry of a kind the caller knows is served (`require("apps/v1", "Deployment")`)."""
    info = _BY_GV_KIND.get((api_version, kind))
    if info is None:
        raise UnknownKind(f"kind {kind!r} of {api_version!r} is not in the kinds table (minikube_py/api/kinds.py)")
    return info


def group_versions() -> list[str]:
    return list(BY_GROUP_VERSION)
