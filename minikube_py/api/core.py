"""core/v1 kinds other than Pod (pod.py): Namespace, Node, Service, Endpoints, ConfigMap, Secret,
PersistentVolume, PersistentVolumeClaim, Event.  The kinds table (kinds.py) maps them to routes.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import Field, model_validator

from . import quantity
from .b64 import Base64Bytes, decoded_size
from .errors import FieldError
from .meta import K8sModel, K8sObject, LabelSelector, config_key_errors, merge_by
from .pod import (
    Free,
    IntOrString,
    Pod,
    PodSpec,
    PodTemplateSpec,
    Quantity,
    ResourceList,
    Toleration,
    pod_spec_errors,
    pod_template_errors,
)

__all__ = ["Namespace", "Node", "Pod", "PodSpec", "PodTemplateSpec", "Service", "Endpoints", "ConfigMap", "Secret",
           "PersistentVolume", "PersistentVolumeClaim", "Event", "pod_spec_errors", "pod_template_errors"]


# --- Namespace ----------------------------------------------------------------------------------


class NamespaceSpec(K8sModel):
    finalizers: list[str] | None = None


class NamespaceStatus(K8sModel):
    phase: str | None = None
    conditions: list[Free] | None = Field(None, json_schema_extra=merge_by("type"))


class Namespace(K8sObject):
    """A scope for names: objects of a kind must have unique names within a namespace."""
    spec: NamespaceSpec | None = None
    """The namespace's finalizers."""
    status: NamespaceStatus | None = None
    """The namespace's phase (Active or Terminating)."""

    @model_validator(mode="after")
    def _defaults(self) -> Namespace:
        if self.spec is None:
            self.spec = NamespaceSpec(finalizers=["kubernetes"])
        return self

    def prepare_for_create(self) -> None:
        """Kubernetes: a namespace is always created Active and with the `kubernetes` finalizer,
        which the namespace controller removes once the namespace's content is gone."""
        self.status = NamespaceStatus(phase="Active")
        if self.spec is None:
            self.spec = NamespaceSpec(finalizers=["kubernetes"])
        finalizers = list(self.spec.finalizers or [])
        if "kubernetes" not in finalizers:
            self.spec.finalizers = [*finalizers, "kubernetes"]

    def name_is_dns_label(self) -> bool:
        return True


# --- Node ---------------------------------------------------------------------------------------


class Taint(K8sModel):
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    time_added: str | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = Field(None, alias="podCIDR")
    pod_cidrs: list[str] | None = Field(None, alias="podCIDRs", json_schema_extra={"x-kubernetes-patch-strategy": "merge"})
    provider_id: str | None = Field(None, alias="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: Free | None = None
    external_id: str | None = Field(None, alias="externalID")


class NodeCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    last_heartbeat_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(K8sModel):
    type: str | None = None
    address: str | None = None


class NodeStatus(K8sModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    addresses: list[NodeAddress] | None = Field(None, json_schema_extra=merge_by("type"))
    daemon_endpoints: Free | None = None
    node_info: Free | None = None
    images: list[Free] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[Free] | None = None
    config: Free | None = None
    runtime_handlers: list[Free] | None = None
    features: Free | None = None
    declared_features: list[str] | None = None


class Node(K8sObject):
    """A machine that runs pods."""
    spec: NodeSpec | None = None
    """How the node is configured (pod CIDR, taints, unschedulable)."""
    status: NodeStatus | None = None
    """The node's reported state: capacity, conditions, addresses."""


# --- Service ------------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


class ServicePort(K8sModel):
    """A port a service exposes, and where it forwards to."""
    name: str | None = None
    """The port's name; required when the service has several ports."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""
    app_protocol: str | None = None
    """The application protocol, a hint for implementations (such as http or kubernetes.io/h2c)."""
    port: int | None = None
    """The port the service listens on."""
    target_port: IntOrString | None = None
    """The port number or name on the pods to forward to; the value of port by default."""
    node_port: int | None = None
    """The port on every node for NodePort and LoadBalancer services; allocated from 30000-32767 when not
    set."""

    @model_validator(mode="after")
    def _defaults(self) -> ServicePort:
        if self.protocol is None:
            self.protocol = "TCP"
        if self.target_port is None and self.port is not None:
            self.target_port = self.port
        return self


class ServiceSpec(K8sModel):
    """The desired state of a service."""
    ports: list[ServicePort] | None = Field(None, json_schema_extra=merge_by("port"))
    """The ports the service exposes."""
    selector: dict[str, str] | None = None
    """The labels of the pods that receive the traffic; without one, endpoints are managed by hand."""
    cluster_ip: str | None = Field(None, alias="clusterIP")
    """The virtual IP address of the service; allocated when empty, "None" for a headless service. Cannot
    change."""
    cluster_ips: list[str] | None = Field(None, alias="clusterIPs")
    """The service's cluster IP addresses (one per IP family); the first equals clusterIP."""
    type: str | None = None
    """ClusterIP (the default), NodePort, LoadBalancer or ExternalName."""
    external_ips: list[str] | None = Field(None, alias="externalIPs")
    """Extra IP addresses on which nodes accept traffic for the service."""
    session_affinity: str | None = None
    """None (the default) or ClientIP: send a client's requests to the same pod."""
    load_balancer_ip: str | None = Field(None, alias="loadBalancerIP")
    """Deprecated: a load balancer IP address to ask for."""
    load_balancer_source_ranges: list[str] | None = None
    """Client address ranges a load balancer accepts."""
    external_name: str | None = None
    """For ExternalName services, the DNS name the service is an alias (CNAME) of."""
    external_traffic_policy: str | None = None
    """Cluster (the default) or Local: whether external traffic may go to pods on other nodes."""
    health_check_node_port: int | None = None
    """The health check port of a LoadBalancer service with the Local policy."""
    publish_not_ready_addresses: bool | None = None
    """List pods in the endpoints even when they are not ready."""
    session_affinity_config: Free | None = None
    ip_families: list[str] | None = None
    """The IP families (IPv4, IPv6) of the service's addresses."""
    ip_family_policy: str | None = None
    """SingleStack (the default), PreferDualStack or RequireDualStack."""
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    """Cluster (the default) or Local, for traffic from inside the cluster."""
    traffic_distribution: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSpec:
        if self.type is None:
            self.type = "ClusterIP"
        if self.session_affinity is None:
            self.session_affinity = "None"
        if self.type != "ExternalName" and self.internal_traffic_policy is None:
            self.internal_traffic_policy = "Cluster"
        if self.type in ("NodePort", "LoadBalancer") and self.external_traffic_policy is None:
            self.external_traffic_policy = "Cluster"
        if self.type == "LoadBalancer" and self.allocate_load_balancer_node_ports is None:
            self.allocate_load_balancer_node_ports = True
        return self


class Service(K8sObject):
    """A stable virtual address and DNS name for a set of pods chosen by labels, balancing traffic over
    them."""
    spec: ServiceSpec | None = None
    """The desired state of the service."""
    status: Free | None = None
    """The observed state of the service (load balancer addresses)."""

    def name_is_dns_label(self) -> bool:
        return True

    def prepare_for_create(self) -> None:
        self.status = {"loadBalancer": {}}

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or ServiceSpec()
        out: list[FieldError] = []
        if spec.type not in SERVICE_TYPES:
            out.append(FieldError.not_supported("spec.type", spec.type, SERVICE_TYPES))
        if spec.type == "ExternalName":
            if not spec.external_name:
                out.append(FieldError.required("spec.externalName"))
        elif not spec.ports:
            out.append(FieldError.required("spec.ports"))
        names: set[str] = set()
        for i, p in enumerate(spec.ports or []):
            path = f"spec.ports[{i}]"
            if p.port is None:
                out.append(FieldError.required(f"{path}.port"))
            elif not 1 <= p.port <= 65535:
                out.append(FieldError.invalid(f"{path}.port", p.port, "must be between 1 and 65535, inclusive"))
            if len(spec.ports or []) > 1 and not p.name:
                out.append(FieldError.required(f"{path}.name"))
            if p.name:
                if p.name in names:
                    out.append(FieldError.duplicate(f"{path}.name", p.name))
                names.add(p.name)
            if p.protocol not in ("TCP", "UDP", "SCTP"):
                out.append(FieldError.not_supported(f"{path}.protocol", p.protocol, ["SCTP", "TCP", "UDP"]))
            if isinstance(p.target_port, int) and not 1 <= p.target_port <= 65535:
                out.append(FieldError.invalid(f"{path}.targetPort", p.target_port,
                                              "must be between 1 and 65535, inclusive"))
            if p.node_port:
                if spec.type not in ("NodePort", "LoadBalancer"):
                    out.append(FieldError.forbidden(f"{path}.nodePort", "may not be used when `type` is "
                                                                         f"'{spec.type}'"))
                elif not 30000 <= p.node_port <= 32767:
                    out.append(FieldError.invalid(f"{path}.nodePort", p.node_port,
                                                  "provided port is not in the valid range. The range of valid ports "
                                                  "is 30000-32767"))
        if spec.session_affinity not in ("None", "ClientIP"):
            out.append(FieldError.not_supported("spec.sessionAffinity", spec.session_affinity, ["ClientIP", "None"]))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, Service)
        before, after = (old.spec or ServiceSpec()).cluster_ip, (self.spec or ServiceSpec()).cluster_ip
        if before and before != "None" and after != before and (self.spec or ServiceSpec()).type != "ExternalName":
            return [FieldError.invalid("spec.clusterIPs[0]", after or "", "may not change once set")]
        return []


# --- Endpoints ----------------------------------------------------------------------------------


class EndpointAddress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: Free | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(K8sObject):
    """The addresses and ports behind a service, kept by the endpoints controller for services with a
    selector."""
    spec_fields = ()
    subsets: list[EndpointSubset] | None = None
    """Sets of addresses sharing the same ports."""


# --- ConfigMap, Secret --------------------------------------------------------------------------

_MAX_DATA = 1024 * 1024


def _data_errors(keys: list[str], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in keys:
        out += [FieldError.invalid(path, key, e) for e in config_key_errors(key)]
    return out


class ConfigMap(K8sObject):
    """Configuration data as key/value pairs, for pods to use as environment variables, arguments or files."""
    spec_fields = ()
    data: dict[str, str] | None = None
    """The configuration data (UTF-8 strings); keys are letters, digits, '-', '_' and '.'."""
    binary_data: dict[str, Base64Bytes] | None = None
    """Binary values, base64-encoded; keys must not repeat those of data."""
    immutable: bool | None = None
    """When true, the data can no longer be changed (only the object deleted)."""

    def validation_errors(self) -> list[FieldError]:
        out = _data_errors(list(self.data or {}), "data") + _data_errors(list(self.binary_data or {}), "binaryData")
        for key in set(self.data or {}) & set(self.binary_data or {}):
            out.append(FieldError.invalid("data", key, "duplicate of key present in binaryData"))
        size = sum(len(k) + len(v) for k, v in (self.data or {}).items())
        size += sum(len(k) + decoded_size(v) for k, v in (self.binary_data or {}).items())
        if size > _MAX_DATA:
            out.append(FieldError.too_long("", "", _MAX_DATA))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, ConfigMap)
        if old.immutable and (self.data != old.data or self.binary_data != old.binary_data):
            return [FieldError.forbidden("data", "field is immutable when `immutable` is set")]
        return []


class Secret(K8sObject):
    """A small amount of sensitive data, such as a password, a token or a key, for pods to use."""
    spec_fields = ()
    data: dict[str, Base64Bytes] | None = None
    """The secret data, each value base64-encoded."""
    string_data: dict[str, str] | None = None
    """Values written as plain strings, merged into data on write; never read back."""
    type: str | None = None
    """What the secret holds: Opaque (the default), kubernetes.io/tls, kubernetes.io/dockerconfigjson, ..."""
    immutable: bool | None = None
    """When true, the data can no longer be changed."""

    @model_validator(mode="after")
    def _defaults(self) -> Secret:
        if self.type is None:
            self.type = "Opaque"
        if self.string_data:  # written once into data, never stored (as Kubernetes does)
            data = dict(self.data or {})
            for k, v in self.string_data.items():
                data[k] = base64.b64encode(v.encode()).decode()
            self.data = data
        self.string_data = None
        return self

    def validation_errors(self) -> list[FieldError]:
        out = _data_errors(list(self.data or {}), "data")
        total = sum(decoded_size(value) for value in (self.data or {}).values())
        if total > _MAX_DATA:
            out.append(FieldError.too_long("data", "", _MAX_DATA))
        if self.type == "kubernetes.io/tls":
            for key in ("tls.crt", "tls.key"):
                if key not in (self.data or {}):
                    out.append(FieldError.required(f"data[{key}]"))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, Secret)
        out: list[FieldError] = []
        if old.type != self.type:
            out.append(FieldError.invalid("type", self.type, "field is immutable"))
        if old.immutable and self.data != old.data:
            out.append(FieldError.forbidden("data", "field is immutable when `immutable` is set"))
        return out


# --- volumes ------------------------------------------------------------------------------------

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


class PersistentVolumeSpec(K8sModel):
    model_config = K8sModel.model_config | {"extra": "allow"}
    capacity: ResourceList | None = None
    access_modes: list[str] | None = None
    claim_ref: Free | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: list[str] | None = None
    volume_mode: str | None = None
    node_affinity: Free | None = None
    volume_attributes_class_name: str | None = None
    host_path: Free | None = None
    local: Free | None = None
    nfs: Free | None = None
    csi: Free | None = None

    @model_validator(mode="after")
    def _defaults(self) -> PersistentVolumeSpec:
        if self.persistent_volume_reclaim_policy is None:
            self.persistent_volume_reclaim_policy = "Retain"
        if self.volume_mode is None:
            self.volume_mode = "Filesystem"
        return self


class PersistentVolume(K8sObject):
    spec: PersistentVolumeSpec | None = None
    status: Free | None = None

    def prepare_for_create(self) -> None:
        self.status = {"phase": "Pending"}

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or PersistentVolumeSpec()
        out: list[FieldError] = []
        if not spec.access_modes:
            out.append(FieldError.required("spec.accessModes"))
        for mode in spec.access_modes or []:
            if mode not in ACCESS_MODES:
                out.append(FieldError.not_supported("spec.accessModes", mode, ACCESS_MODES))
        if not (spec.capacity or {}).get("storage"):
            out.append(FieldError.required("spec.capacity"))
        return out


class PVCSpec(K8sModel):
    """The storage a claim asks for."""
    access_modes: list[str] | None = None
    """How the volume may be mounted: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."""
    selector: LabelSelector | None = None
    """Labels of the volumes the claim may bind to."""
    resources: Free | None = None
    """The storage size to request (resources.requests.storage)."""
    volume_name: str | None = None
    """The volume to bind to, by name."""
    storage_class_name: str | None = None
    """The StorageClass to provision from; the default class when not set."""
    volume_mode: str | None = None
    """Filesystem (the default) or Block."""
    data_source: Free | None = None
    data_source_ref: Free | None = None
    volume_attributes_class_name: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> PVCSpec:
        if self.volume_mode is None:
            self.volume_mode = "Filesystem"
        return self


class PersistentVolumeClaim(K8sObject):
    """A request for storage, bound to a PersistentVolume that satisfies it."""
    spec: PVCSpec | None = None
    """The storage asked for."""
    status: Free | None = None
    """The claim's phase and bound capacity."""

    def prepare_for_create(self) -> None:
        self.status = {"phase": "Pending"}

    def validation_errors(self) -> list[FieldError]:
        return pvc_spec_errors(self.spec, "spec")

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, PersistentVolumeClaim)
        a, b = (self.spec or PVCSpec()), (old.spec or PVCSpec())
        if b.volume_name and a.volume_name != b.volume_name or a.access_modes != b.access_modes or \
                a.storage_class_name != b.storage_class_name and b.storage_class_name is not None:
            return [FieldError.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                                 "volumeAttributesClassName for bound claims")]
        return []


def pvc_spec_errors(spec: PVCSpec | None, path: str) -> list[FieldError]:
    spec = spec or PVCSpec()
    out: list[FieldError] = []
    if not spec.access_modes:
        out.append(FieldError.required(f"{path}.accessModes", "at least 1 access mode is required"))
    for mode in spec.access_modes or []:
        if mode not in ACCESS_MODES:
            out.append(FieldError.not_supported(f"{path}.accessModes", mode, ACCESS_MODES))
    storage = ((spec.resources or {}).get("requests") or {}).get("storage")
    if storage is None:
        out.append(FieldError.required(f"{path}.resources[storage]"))
    else:
        try:
            if quantity.parse(storage) <= 0:
                out.append(FieldError.invalid(f"{path}.resources[storage]", storage, "must be greater than zero"))
        except quantity.QuantityError as exc:
            out.append(FieldError.invalid(f"{path}.resources[storage]", storage, str(exc)))
    return out


# --- Event --------------------------------------------------------------------------------------


class ObjectReference(K8sModel):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class Event(K8sObject):
    spec_fields = ()
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: Free | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int | None = None
    type: str | None = None
    event_time: str | None = None
    series: Free | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None

    def validation_errors(self) -> list[FieldError]:
        out: list[FieldError] = []
        if self.type not in (None, "Normal", "Warning"):
            out.append(FieldError.not_supported("type", self.type, ["Normal", "Warning"]))
        if self.involved_object is None or not self.involved_object.name:
            out.append(FieldError.required("involvedObject.name"))
        return out


_unused: tuple[Any, ...] = (Quantity, Toleration, Pod)
