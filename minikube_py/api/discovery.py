"""discovery.k8s.io/v1 EndpointSlice: the endpoints of a Service in slices of at most 100, which
kube-proxy, DNS and kubectl >= 1.32 (`describe service`, `describe ingress`) read instead of
Endpoints.  The endpointslice controllers (controllers/endpointslices.py) write them; the kinds
table (kinds.py) serves them.
"""

from __future__ import annotations

import ipaddress

from pydantic import model_validator

from .core import ObjectReference
from .errors import FieldError
from .meta import Int32, K8sModel, K8sObject, dns1123_label_errors, dns1123_subdomain_errors

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
MAX_ENDPOINTS = 1000  # per slice, as kube-apiserver validates
MAX_ADDRESSES = 100  # per endpoint
MAX_PORTS = 20000


class EndpointConditions(K8sModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(K8sModel):
    name: str | None = None
    """A zone."""


class ForNode(K8sModel):
    name: str | None = None
    """A node."""


class EndpointHints(K8sModel):
    """Where an endpoint should be used: topology-aware routing's hints."""
    for_zones: list[ForZone] | None = None
    """The zones that should use this endpoint."""
    for_nodes: list[ForNode] | None = None
    """The nodes that should use this endpoint."""


class Endpoint(K8sModel):
    addresses: list[str] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None
    deprecated_topology: dict[str, str] | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    port: Int32 | None = None
    app_protocol: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> EndpointPort:
        if self.name is None:
            self.name = ""
        if self.protocol is None:
            self.protocol = "TCP"
        return self


class EndpointSlice(K8sObject):
    # generation counts changes of what the slice lists (kube's strategy bumps it the same way)
    spec_fields = ("endpoints", "ports")
    address_type: str | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None

    def validation_errors(self) -> list[FieldError]:
        out: list[FieldError] = []
        if not self.address_type:
            out.append(FieldError.required("addressType"))
        elif self.address_type not in ADDRESS_TYPES:
            out.append(FieldError.not_supported("addressType", self.address_type, ADDRESS_TYPES))
        endpoints = self.endpoints or []
        if len(endpoints) > MAX_ENDPOINTS:
            out.append(FieldError.too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
        for i, ep in enumerate(endpoints):
            out += _endpoint_errors(ep, f"endpoints[{i}]", self.address_type)
        ports = self.ports or []
        if len(ports) > MAX_PORTS:
            out.append(FieldError.too_many("ports", len(ports), MAX_PORTS))
        seen: set[str] = set()
        for i, p in enumerate(ports):
            path = f"ports[{i}]"
            if p.name:
                out += [FieldError.invalid(f"{path}.name", p.name, m) for m in dns1123_label_errors(p.name)]
            if (p.name or "") in seen:
                out.append(FieldError.duplicate(f"{path}.name", p.name or ""))
            seen.add(p.name or "")
            if p.protocol not in PROTOCOLS:
                out.append(FieldError.not_supported(f"{path}.protocol", p.protocol, PROTOCOLS))
            if p.port is not None and not 1 <= p.port <= 65535:
                out.append(FieldError.invalid(f"{path}.port", p.port, "must be between 1 and 65535, inclusive"))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, EndpointSlice)
        if old.address_type != self.address_type:
            return [FieldError.invalid("addressType", self.address_type, "field is immutable")]
        return []


def _endpoint_errors(ep: Endpoint, path: str, address_type: str | None) -> list[FieldError]:
    out: list[FieldError] = []
    addresses = ep.addresses or []
    if not addresses:
        out.append(FieldError.required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        out.append(FieldError.too_many(f"{path}.addresses", len(addresses), MAX_ADDRESSES))
    for j, address in enumerate(addresses):
        if address_type in ("IPv4", "IPv6"):
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                ip = None
            if ip is None or (ip.version == 4) != (address_type == "IPv4"):
                out.append(FieldError.invalid(f"{path}.addresses[{j}]", address,
                                              f"must be a valid {address_type} address"))
    if ep.node_name:
        out += [FieldError.invalid(f"{path}.nodeName", ep.node_name, m) for m in dns1123_subdomain_errors(ep.node_name)]
    if ep.hostname:
        out += [FieldError.invalid(f"{path}.hostname", ep.hostname, m) for m in dns1123_label_errors(ep.hostname)]
    return out
