"""EndpointSlice mirroring controller: Endpoints that a user writes by hand for a Service without a
selector are mirrored into EndpointSlices, as kube-controller-manager's endpointslicemirroring
controller does, so the readers of slices (kubectl >= 1.32, kube-proxy) see them too.

Mirrored: an Endpoints object whose Service exists and has no selector, unless it is labelled
`endpointslice.kubernetes.io/skip-mirror: "true"` (the apiserver's own `kubernetes` Endpoints is)
or holds a leader-election annotation.  Each subset becomes endpoints (ready addresses ready,
the others not) under its ports, at most 1000 per subset; slices carry the Endpoints' labels and
annotations, `kubernetes.io/service-name`, managed-by `endpointslicemirroring-controller.k8s.io`,
and an ownerReference to the Endpoints.  Anything else has its mirrored slices removed.
Laying endpoints into slices is `endpointslices.plan`, shared with the endpointslice controller, and
so is the stale-cache guard (a pass waits until the watch has shown the creates and deletes of
the previous one; slices being deleted are not planned with).

Keys are `namespace/name` of the Endpoints (= of the Service).  Run by the controller manager.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..client.informer import Informer, key_of
from ..client.tracing import observe, want
from .base import Controller, ControllerContext, Expectations, namespaced
from .endpoints import ENDPOINTS, SERVICE
from .endpointslices import (
    ENDPOINT_SLICE,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    Group,
    Plan,
    PortsKey,
    apply_plan,
    count_slice_event,
    endpoint_id,
    index_by_service,
    managed_by,
    plan,
    ports_key,
    slice_service,
)

Obj = dict[str, Any]
CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_ENDPOINTS_PER_SUBSET = 1000  # --mirroring-max-endpoints-per-subset
_NOT_COPIED_ANNOTATIONS = ("endpoints.kubernetes.io/last-change-trigger-time",
                           "kubectl.kubernetes.io/last-applied-configuration")


def should_mirror(endpoints: Obj) -> bool:
    meta = endpoints.get("metadata") or {}
    return (meta.get("labels") or {}).get(SKIP_MIRROR_LABEL) != "true" and \
        LEADER_ANNOTATION not in (meta.get("annotations") or {})


def _address_type(ip: Any) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(str(ip)).version == 4 else "IPv6"
    except ValueError:
        return None  # kube skips it (with an InvalidIPAddress event)


def _endpoint(address: Obj, ready: bool) -> Obj:
    ep: Obj = {"addresses": [address.get("ip")], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    if address.get("targetRef"):
        ep["targetRef"] = address["targetRef"]
    return ep


def mirrored_groups(endpoints: Obj) -> dict[PortsKey, Group]:
    """The subsets of `endpoints` as slice groups: one per address type and port set."""
    groups: dict[PortsKey, Group] = {}
    for subset in endpoints.get("subsets") or []:
        ports = [{"name": str(p.get("name") or ""), "port": p.get("port"), "protocol": p.get("protocol") or "TCP",
                  **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {})}
                 for p in subset.get("ports") or []]
        ports.sort(key=lambda p: (p["name"], p["port"] or 0))
        addresses = [(a, True) for a in subset.get("addresses") or []] + \
            [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in addresses[:MAX_ENDPOINTS_PER_SUBSET]:
            family = _address_type(address.get("ip"))
            if family is None:
                continue
            key = ports_key(family, ports)
            group = groups.setdefault(key, Group(family, ports))
            ep = _endpoint(address, ready)
            if all(endpoint_id(e) != endpoint_id(ep) for e in group.endpoints):
                group.endpoints.append(ep)
    for group in groups.values():
        group.endpoints.sort(key=endpoint_id)
    return groups


class EndpointSliceMirroringController(Controller):
    name = "endpointslicemirroring-controller"
    kind = "Endpoints"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.endpoints: Informer = ctx.informers.get(ENDPOINTS)
        self.primary = self.endpoints
        self.services: Informer = ctx.informers.get(SERVICE)
        self.slices: Informer = ctx.informers.get(ENDPOINT_SLICE)
        self.expectations = Expectations(clock=ctx.clock)
        index_by_service(self.slices)
        self.endpoints.add_handler(lambda kind, obj, old: self.enqueue(obj))
        self.services.add_handler(self._on_service)
        self.slices.add_handler(self._on_slice)

    def _on_service(self, kind: str, svc: Obj, old: Obj | None) -> None:
        if kind == "DELETED" and key_of(svc) not in self.endpoints.cache:
            self.expectations.forget(key_of(svc))
        self.enqueue(svc)

    def _on_slice(self, kind: str, s: Obj, old: Obj | None) -> None:
        if ((s.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
            for key in slice_service(s):
                count_slice_event(self.expectations, key, kind, s, old)
                self.add(key)

    def mirrored(self, key: str) -> list[Obj]:
        return managed_by(self.slices, key, CONTROLLER_NAME)

    async def reconcile(self, key: Any) -> float | None:
        ns, name = namespaced(str(key))
        if not self.expectations.satisfied(str(key)):
            observe(expectations="pending")
            return None  # the cache lags our own writes: their slice events queue the key again
        existing = self.mirrored(str(key))
        svc, endpoints = self.services.get(str(key)), self.endpoints.get(str(key))
        if svc is None or (svc.get("spec") or {}).get("selector") or endpoints is None or \
                not should_mirror(endpoints):
            observe(slices=len(existing))
            want(slices=0)
            await apply_plan(self, self.expectations, str(key), Plan(deletes=existing), {}, ())
            return None
        desired = mirrored_groups(endpoints)
        observe(slices=len(existing), endpoints=sum(len(s.get("endpoints") or []) for s in existing))
        want(endpoints=sum(len(g.endpoints) for g in desired.values()))
        meta_in = endpoints.get("metadata") or {}
        labels = {k: v for k, v in (meta_in.get("labels") or {}).items()
                  if k not in (MANAGED_BY_LABEL, SERVICE_NAME_LABEL)}
        labels[SERVICE_NAME_LABEL], labels[MANAGED_BY_LABEL] = name, CONTROLLER_NAME
        annotations = {k: v for k, v in (meta_in.get("annotations") or {}).items() if k not in _NOT_COPIED_ANNOTATIONS}
        meta: Obj = {"generateName": f"{name}-", "namespace": ns, "labels": labels, "annotations": annotations or None,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": name,
                                          "uid": meta_in.get("uid"), "controller": True, "blockOwnerDeletion": True}]}
        todo = plan(desired, existing, MAX_ENDPOINTS_PER_SUBSET)
        if not desired:  # kube mirrors no placeholder: an Endpoints without addresses has no slices
            todo = Plan(deletes=existing)
        await apply_plan(self, self.expectations, str(key), todo, meta, ("labels", "annotations", "ownerReferences"))
        return None

