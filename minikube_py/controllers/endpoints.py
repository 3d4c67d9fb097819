"""Endpoints controller: for every Service with a selector, an Endpoints object of the same name
listing the matching pods, ready ones under `addresses` and the others under
`notReadyAddresses`, each with the service's ports resolved against the pod (a named targetPort
becomes that container port's number).  Pods with the same resolved ports share a subset, as
Kubernetes packs them.  Services without a selector keep the Endpoints their owner writes.

Shared with the endpointslice controller (endpointslices.py): which pods count (`pod_in_endpoints`),
the address a pod is listed under (`pod_ip`), port resolution, and which services a pod event
concerns (`services_selecting`, over an index of the services informer by selector, so a pod event
costs the services that could select it rather than every service in its namespace).
"""

from __future__ import annotations

from typing import Any

from ..api import kinds
from ..api.errors import ApiError, NotFound
from ..client.informer import Informer, is_resync, key_of
from ..client.tracing import observe, want
from .base import POD, Controller, ControllerContext, namespaced, pod_ready

Obj = dict[str, Any]
SERVICE = kinds.require("v1", "Service")
ENDPOINTS = kinds.require("v1", "Endpoints")
SELECTOR_INDEX = "service-selector"


def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service's selector over a pod's labels (an empty selector selects nothing here)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _selector_entry(svc: Obj) -> list[str]:
    """Index value: `namespace/key=value` of one pair of the service's selector (the least key); a
    pod it selects carries that pair, so the pod's own pairs find every candidate."""
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return []
    first = min(selector)
    return [f"{(svc.get('metadata') or {}).get('namespace')}/{first}={selector[first]}"]


def index_services_by_selector(informer: Informer) -> None:
    """Index the services informer by selector (once, however many controllers ask)."""
    if not informer.has_index(SELECTOR_INDEX):
        informer.add_index(SELECTOR_INDEX, _selector_entry)


def services_selecting(services: Informer, pod: Obj, old: Obj | None = None) -> list[Obj]:
    """The services whose selector selects `pod`, or selected it as it was (`old`): a label change
    concerns both.  `services` must be indexed by `index_services_by_selector`."""
    ns = (pod.get("metadata") or {}).get("namespace")
    found: dict[str, Obj] = {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
    for version in (labels, old_labels) if old_labels != labels else (labels,):
        for k, v in version.items():
            for svc in services.by_index(SELECTOR_INDEX, f"{ns}/{k}={v}"):
                if selects((svc.get("spec") or {}).get("selector"), version):
                    found[key_of(svc)] = svc
    return list(found.values())


def pod_ip(pod: Obj) -> str | None:
    """The address a pod is listed under: status.podIP, or the first of status.podIPs (kube's
    endpoint controllers take the pod's IPs from either)."""
    status = pod.get("status") or {}
    if status.get("podIP"):
        return str(status["podIP"])
    for entry in status.get("podIPs") or []:
        if isinstance(entry, dict) and entry.get("ip"):
            return str(entry["ip"])
    return None


def resolve_port(pod: Obj, target: Any, protocol: str) -> int | None:
    """kube's FindPort: a number as is, a name looked up among the pod's container ports."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


def pod_in_endpoints(pod: Obj, *, include_terminating: bool) -> bool:
    """kube's ShouldPodBeInEndpoints: not finished, has an IP, and (for Endpoints) not being deleted;
    EndpointSlices keep terminating pods, marked so."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if pod_ip(pod) is None:
        return False
    return include_terminating or not meta.get("deletionTimestamp")


def pod_ports(service: Obj, pod: Obj) -> list[Obj]:
    """The service's ports resolved against `pod` (ports it lacks are left out), with name and protocol."""
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        protocol = sp.get("protocol") or "TCP"
        port = resolve_port(pod, sp.get("targetPort", sp.get("port")), protocol)
        if port is not None:
            resolved: Obj = {"name": str(sp.get("name") or ""), "port": port, "protocol": protocol}
            if sp.get("appProtocol"):
                resolved["appProtocol"] = sp["appProtocol"]
            out.append(resolved)
    return out


def pod_ref(pod: Obj) -> Obj:
    meta = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid")}


def endpoints_for(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The subsets Kubernetes would compute for `service` over `pods`."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[Obj]]] = {}
    for pod in pods:
        if not pod_in_endpoints(pod, include_terminating=False):
            continue
        ports = [(p["name"], p["port"], p["protocol"]) for p in pod_ports(service, pod)]
        if not ports and spec.get("ports"):
            continue
        address: Obj = {"ip": pod_ip(pod), "targetRef": pod_ref(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        group = groups.setdefault(tuple(sorted(ports)), {"addresses": [], "notReadyAddresses": []})
        group["addresses" if pod_ready(pod) or publish_not_ready else "notReadyAddresses"].append(address)
    subsets = []
    for port_set, group in sorted(groups.items()):
        subset: Obj = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=lambda a: (a["ip"], a["targetRef"]["uid"]))
        subset["ports"] = [{**({"name": n} if n else {}), "port": p, "protocol": proto} for n, p, proto in port_set]
        subsets.append(subset)
    return subsets


class EndpointsController(Controller):
    name = "endpoints-controller"
    kind = "Service"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services: Informer = ctx.informers.get(SERVICE)
        self.primary = self.services
        self.endpoints: Informer = ctx.informers.get(ENDPOINTS)
        self.pods: Informer = ctx.informers.get(POD)
        index_services_by_selector(self.services)
        self.services.add_handler(lambda kind, obj, old: self.enqueue(obj))
        self.endpoints.add_handler(self._on_endpoints)
        self.pods.add_handler(self._on_pod)

    def _on_endpoints(self, kind: str, ep: Obj, old: Obj | None) -> None:
        key = key_of(ep)
        if key in self.services.cache or kind == "DELETED":
            self.add(key)  # someone changed or removed what we manage: put it back

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if is_resync(kind, pod, old):
            return  # the services' own resync covers them
        for svc in services_selecting(self.services, pod, old):
            self.enqueue(svc)

    async def reconcile(self, key: Any) -> float | None:
        ns, name = namespaced(str(key))
        svc = self.services.get(str(key))
        current = self.endpoints.get(str(key))
        if svc is None:  # the service went away: so do its endpoints (as Kubernetes does)
            if current is not None:
                try:
                    await self.client.delete(ENDPOINTS, ns, name)
                except ApiError as exc:
                    if not isinstance(exc, NotFound):
                        raise
            return None
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            return None  # endpoints of a selector-less service belong to its owner
        pods = [p for p in self.pods.objects(ns) if selects(selector, (p.get("metadata") or {}).get("labels"))]
        subsets = endpoints_for(svc, pods)
        observe(pods=len(pods), endpoints=sum(len(s.get("addresses") or []) for s in (current or {}).get("subsets") or []))
        want(ready=sum(len(s.get("addresses") or []) for s in subsets),
             not_ready=sum(len(s.get("notReadyAddresses") or []) for s in subsets))
        labels = dict((svc.get("metadata") or {}).get("labels") or {})
        if current is not None and (current.get("subsets") or []) == subsets and \
                ((current.get("metadata") or {}).get("labels") or {}) == labels:
            return None
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets}
        if current is None:
            await self.client.create(ENDPOINTS, ns, body)  # AlreadyExists: the cache is behind; retried
            return None
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        if (current.get("metadata") or {}).get("annotations"):
            body["metadata"]["annotations"] = current["metadata"]["annotations"]
        await self.client.update(ENDPOINTS, ns, body)
        return None
