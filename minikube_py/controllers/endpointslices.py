"""EndpointSlice controller: for every Service with a selector, EndpointSlices listing the selected
pods, as kube-controller-manager's endpointslice controller keeps them (kube-proxy, DNS and kubectl
>= 1.32 read them instead of Endpoints).

Each slice carries one port set (the service's ports resolved against its pods, so pods with
different named target ports land in different slices), at most 100 endpoints, the labels
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, the service's own
labels, and an ownerReference to the service (the garbage collector removes them with it).  An
endpoint has the pod's IP, its conditions (ready, serving, terminating: terminating pods stay,
not ready), nodeName and targetRef.  A service that selects nothing keeps one empty placeholder
slice.  Which pods count and how ports resolve are the endpoints controller's rules
(endpoints.py); how desired endpoints are laid into slices with the fewest writes is `plan`,
shared with the mirroring controller (endpointslicemirroring.py).

A lagging cache must not make a second copy: slices are created with generateName, so a repeated
create never fails.  Like kube's endpointSliceTracker (StaleSlices), each service's pass records
the creates and deletes it sent (`Expectations`, the ReplicaSet controller's rule) and the watch
events of its slices count them off; until they have all been seen, a pass writes nothing (the
slice events queue the service again).  Slices being deleted are not planned with
(kube's dropEndpointSlicesPendingDeletion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api import kinds
from ..api.errors import ConnectionLost, NotFound
from ..client.informer import Informer, is_resync, key_of
from ..client.tracing import observe, want
from .base import POD, Controller, ControllerContext, Expectations, namespaced, pod_ready
from .endpoints import (
    SERVICE,
    index_services_by_selector,
    pod_in_endpoints,
    pod_ip,
    pod_ports,
    pod_ref,
    selects,
    services_selecting,
)

Obj = dict[str, Any]
ENDPOINT_SLICE = kinds.require("discovery.k8s.io/v1", "EndpointSlice")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
HEADLESS_LABEL = "service.kubernetes.io/headless"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100  # kube-controller-manager's --max-endpoints-per-slice default
SERVICE_INDEX = "endpointslice-service"
LOST_CREATE_WAIT = 30.0  # seconds a create whose connection broke stays expected

PortsKey = tuple[str, tuple[tuple[str, int | None, str, str], ...]]  # (addressType, ports)


def ports_key(address_type: str, ports: list[Obj]) -> PortsKey:
    return address_type, tuple(sorted((str(p.get("name") or ""), p.get("port"), str(p.get("protocol") or "TCP"),
                                       str(p.get("appProtocol") or "")) for p in ports))


def endpoint_id(ep: Obj) -> tuple[Any, ...]:
    return tuple(ep.get("addresses") or ()), ((ep.get("targetRef") or {}).get("uid") or "")


def slice_service(obj: Obj) -> list[str]:
    """Index value: `namespace/service` of a slice's service-name label."""
    meta = obj.get("metadata") or {}
    name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace')}/{name}"] if name else []


def index_by_service(informer: Informer) -> None:
    if not informer.has_index(SERVICE_INDEX):
        informer.add_index(SERVICE_INDEX, slice_service)


def _deleting(obj: Obj | None) -> bool:
    return bool(((obj or {}).get("metadata") or {}).get("deletionTimestamp"))


def managed_by(informer: Informer, key: str, controller_name: str) -> list[Obj]:
    """The slices of service `key` that `controller_name` manages, without those being deleted."""
    return [s for s in informer.by_index(SERVICE_INDEX, key)
            if ((s.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == controller_name
            and not _deleting(s)]


def count_slice_event(expectations: Expectations, key: str, kind: str, s: Obj, old: Obj | None) -> None:
    """A watch event of one of service `key`'s slices, counted against what its passes expect: a new
    slice is an awaited create, one gone (or newly marked for deletion) an awaited delete."""
    if kind == "ADDED" and old is None:
        expectations.observed_add(key)
    elif (kind == "DELETED" and not _deleting(old)) or (_deleting(s) and old is not None and not _deleting(old)):
        expectations.observed_delete(key)


# --- desired state ---------------------------------------------------------------------------------

@dataclass(slots=True)
class Group:
    """The endpoints wanted for one port set."""

    address_type: str
    ports: list[Obj]
    endpoints: list[Obj] = field(default_factory=list)


def pod_endpoint(service: Obj, pod: Obj) -> Obj:
    """kube's podToEndpoint, without zones (nodes here carry no zone label)."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    svc_meta, svc_spec = service.get("metadata") or {}, service.get("spec") or {}
    publish = bool(svc_spec.get("publishNotReadyAddresses"))
    terminating = bool(meta.get("deletionTimestamp"))
    serving = pod_ready(pod)
    ready = publish or (serving and not terminating)
    ep: Obj = {"addresses": [pod_ip(pod)],
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if spec.get("hostname") and spec.get("subdomain") == svc_meta.get("name"):
        ep["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    ep["targetRef"] = pod_ref(pod)
    return ep


def desired_groups(service: Obj, pods: list[Obj]) -> dict[PortsKey, Group]:
    """kube's reconcileByAddressType input: the selected pods' endpoints grouped by resolved ports
    (a pod none of whose ports resolves is still listed, under no ports)."""
    groups: dict[PortsKey, Group] = {}
    for pod in pods:
        if not pod_in_endpoints(pod, include_terminating=True):
            continue
        ports = pod_ports(service, pod)
        key = ports_key("IPv4", ports)
        group = groups.setdefault(key, Group("IPv4", sorted(ports, key=lambda p: (p["name"], p["port"]))))
        group.endpoints.append(pod_endpoint(service, pod))
    for group in groups.values():
        group.endpoints.sort(key=endpoint_id)
    return groups


# --- from desired to writes ------------------------------------------------------------------------

@dataclass(slots=True)
class Plan:
    creates: list[Group] = field(default_factory=list)
    updates: list[tuple[Obj, Group]] = field(default_factory=list)  # (current slice, what it should hold)
    deletes: list[Obj] = field(default_factory=list)


def plan(desired: dict[PortsKey, Group], existing: list[Obj], max_per_slice: int) -> Plan:
    """The writes that turn `existing` slices into `desired`, as kube's reconciler chooses them:
    endpoints stay in the slice that holds them, new ones fill slices with room before new slices
    are made, emptied slices go, a slice about to go is reused for one about to be made (same
    address type), and a service with no endpoints keeps exactly one empty placeholder."""
    out = Plan()
    by_key: dict[PortsKey, list[Obj]] = {}
    for s in sorted(existing, key=lambda s: str((s.get("metadata") or {}).get("name"))):
        by_key.setdefault(ports_key(str(s.get("addressType") or ""), s.get("ports") or []), []).append(s)
    for key, slices in by_key.items():
        if key not in desired:
            out.deletes += slices
    for key, group in desired.items():
        wanted = {endpoint_id(ep): ep for ep in group.endpoints}
        filled: list[tuple[Obj, list[Obj]]] = []
        for s in by_key.get(key, []):
            kept = [wanted.pop(endpoint_id(ep)) for ep in s.get("endpoints") or [] if endpoint_id(ep) in wanted]
            filled.append((s, kept))
        fresh = sorted(wanted.values(), key=endpoint_id)
        for s, kept in filled:
            room = max_per_slice - len(kept)
            if fresh and room > 0:
                kept += fresh[:room]
                fresh = fresh[room:]
            if not kept:
                out.deletes.append(s)
            else:  # written only if it differs (endpoints, or the labels and owners around them)
                out.updates.append((s, Group(group.address_type, group.ports, kept)))
        for i in range(0, len(fresh), max_per_slice):
            out.creates.append(Group(group.address_type, group.ports, fresh[i:i + max_per_slice]))
    if not any(g.endpoints for g in desired.values()):  # nothing to list: one placeholder
        placeholders = [s for s in out.deletes if not s.get("endpoints") and not s.get("ports")]
        if placeholders:
            out.deletes.remove(placeholders[0])
            out.updates.append((placeholders[0], Group(str(placeholders[0].get("addressType")), [], [])))
        else:
            out.creates.append(Group("IPv4", [], []))
    recycled: list[Group] = []
    for group in out.creates:  # a create and a delete of the same address type: one update instead
        old = next((s for s in out.deletes if s.get("addressType") == group.address_type), None)
        if old is None:
            recycled.append(group)
            continue
        out.deletes.remove(old)
        out.updates.append((old, group))
    out.creates = recycled
    return out


def slice_body(current: Obj | None, group: Group, meta: Obj) -> Obj:
    """A slice holding `group`, with the metadata fields `meta` gives (labels, ownerReferences, ...)."""
    if current is None:
        body: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": dict(meta)}
    else:
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {**(current.get("metadata") or {}), **meta}}
    body["addressType"] = group.address_type
    # empty lists are left out: kube's stored slices read back with them null (a placeholder's both)
    for name, items in (("endpoints", group.endpoints), ("ports", group.ports)):
        if items:
            body[name] = items
        else:
            body.pop(name, None)
    return body


def unchanged(current: Obj, body: Obj, meta_fields: tuple[str, ...]) -> bool:
    cmeta, bmeta = current.get("metadata") or {}, body.get("metadata") or {}
    return all((current.get(f) or []) == (body.get(f) or []) for f in ("endpoints", "ports")) and \
        all((cmeta.get(f) or None) == (bmeta.get(f) or None) for f in meta_fields)


async def apply_plan(controller: Controller, expectations: Expectations, key: str, todo: Plan, meta: Obj,
                     meta_fields: tuple[str, ...]) -> int:
    """Carry out `todo` for service `key`: deletes, then updates, then creates (kube's order);
    returns the writes made.  The creates and deletes are expected before they are sent; those that
    surely did not happen are counted off at once.  A failed write raises (the pass is retried with
    backoff)."""
    writes = 0
    client = controller.client
    namespace, _ = namespaced(key)
    if todo.creates or todo.deletes:
        expectations.expect(key, adds=len(todo.creates), deletes=len(todo.deletes))
    unsent_deletes, unsent_creates = len(todo.deletes), len(todo.creates)
    try:
        for s in todo.deletes:
            try:
                await client.delete(ENDPOINT_SLICE, namespace, s["metadata"]["name"])
            except NotFound:
                expectations.observed_delete(key)  # gone already: not ours to wait for
            unsent_deletes -= 1
            writes += 1
        for current, group in todo.updates:
            body = slice_body(current, group, meta)
            if unchanged(current, body, meta_fields):
                continue
            await client.update(ENDPOINT_SLICE, namespace, body)
            writes += 1
        for group in todo.creates:
            try:
                await client.create(ENDPOINT_SLICE, namespace, slice_body(None, group, meta))
            except ConnectionLost:
                # no answer: the slice may exist; it stays expected, but not for the whole ttl
                unsent_creates -= 1
                expectations.expire_within(key, LOST_CREATE_WAIT)
                raise
            unsent_creates -= 1
            writes += 1
    finally:  # what was never sent, or surely failed, is not waited for
        for _ in range(unsent_deletes):
            expectations.observed_delete(key)
        for _ in range(unsent_creates):
            expectations.observed_add(key)
    return writes


def service_labels(service: Obj, controller_name: str) -> dict[str, str]:
    """kube's setEndpointSliceLabels: the service's labels (not the two reserved ones), its name, the
    manager, and the headless mark."""
    meta = service.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    labels[SERVICE_NAME_LABEL] = str(meta.get("name"))
    labels[MANAGED_BY_LABEL] = controller_name
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


# --- the controller --------------------------------------------------------------------------------

class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    kind = "Service"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services: Informer = ctx.informers.get(SERVICE)
        self.primary = self.services
        self.slices: Informer = ctx.informers.get(ENDPOINT_SLICE)
        self.pods: Informer = ctx.informers.get(POD)
        self.expectations = Expectations(clock=ctx.clock)
        index_by_service(self.slices)
        index_services_by_selector(self.services)
        self.services.add_handler(self._on_service)
        self.slices.add_handler(self._on_slice)
        self.pods.add_handler(self._on_pod)

    def _on_service(self, kind: str, svc: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            self.expectations.forget(key_of(svc))
        self.enqueue(svc)

    def _on_slice(self, kind: str, s: Obj, old: Obj | None) -> None:
        if ((s.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) != CONTROLLER_NAME:
            return
        for key in slice_service(s):
            count_slice_event(self.expectations, key, kind, s, old)
            self.add(key)  # someone changed or removed what we manage: put it right

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if is_resync(kind, pod, old):
            return
        for svc in services_selecting(self.services, pod, old):
            self.enqueue(svc)

    def managed(self, key: str) -> list[Obj]:
        return managed_by(self.slices, key, CONTROLLER_NAME)

    async def reconcile(self, key: Any) -> float | None:
        ns, name = namespaced(str(key))
        svc = self.services.get(str(key))
        if svc is None:
            self.expectations.forget(str(key))
            return None  # its slices are owned by it: the garbage collector removes them
        spec = svc.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return None  # no selector: the mirroring controller may mirror hand-written Endpoints
        if not self.expectations.satisfied(str(key)):
            observe(expectations="pending")
            return None  # the cache lags our own writes: their slice events queue the service again
        pods = [p for p in self.pods.objects(ns) if selects(spec["selector"], (p.get("metadata") or {}).get("labels"))]
        desired = desired_groups(svc, pods)
        existing = self.managed(str(key))
        observe(pods=len(pods), slices=len(existing),
                endpoints=sum(len(s.get("endpoints") or []) for s in existing))
        want(endpoints=sum(len(g.endpoints) for g in desired.values()))
        svc_meta = svc.get("metadata") or {}
        meta = {"generateName": f"{name}-", "namespace": ns, "labels": service_labels(svc, CONTROLLER_NAME),
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": svc_meta.get("uid"),
                                     "controller": True, "blockOwnerDeletion": True}]}
        await apply_plan(self, self.expectations, str(key), plan(desired, existing, MAX_ENDPOINTS_PER_SLICE), meta,
                         ("labels", "ownerReferences"))
        return None

