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
from .meta import Int32, K8sModel, K8sObject, LabelSelector, config_key_errors, merge_by
from .parts import (
    AttachedVolume,
    AWSElasticBlockStoreVolumeSource,
    AzureDiskVolumeSource,
    AzureFilePersistentVolumeSource,
    CephFSPersistentVolumeSource,
    CinderPersistentVolumeSource,
    ContainerImage,
    CSIPersistentVolumeSource,
    EventSeries,
    EventSource,
    FCVolumeSource,
    FlexPersistentVolumeSource,
    FlockerVolumeSource,
    GCEPersistentDiskVolumeSource,
    GlusterfsPersistentVolumeSource,
    HostPathVolumeSource,
    ISCSIPersistentVolumeSource,
    LoadBalancerStatus,
    LocalVolumeSource,
    NamespaceCondition,
    NFSVolumeSource,
    NodeConfigSource,
    NodeConfigStatus,
    NodeDaemonEndpoints,
    NodeFeatures,
    NodeRuntimeHandler,
    NodeSystemInfo,
    ObjectReference,
    PersistentVolumeClaimStatus,
    PersistentVolumeStatus,
    PhotonPersistentDiskVolumeSource,
    PortworxVolumeSource,
    QuobyteVolumeSource,
    RBDPersistentVolumeSource,
    ScaleIOPersistentVolumeSource,
    ServiceStatus,
    SessionAffinityConfig,
    StorageOSPersistentVolumeSource,
    TypedLocalObjectReference,
    TypedObjectReference,
    VolumeNodeAffinity,
    VolumeResourceRequirements,
    VsphereVirtualDiskVolumeSource,
)
from .pod import (
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
    conditions: list[NamespaceCondition] | None = Field(None, json_schema_extra=merge_by("type"))


class Namespace(K8sObject):
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None

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
    config_source: NodeConfigSource | None = None
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
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[AttachedVolume] | None = None
    config: NodeConfigStatus | None = None
    runtime_handlers: list[NodeRuntimeHandler] | None = None
    features: NodeFeatures | None = None
    declared_features: list[str] | None = None


class Node(K8sObject):
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


# --- Service ------------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


class ServicePort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    port: Int32 | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None

    @model_validator(mode="after")
    def _defaults(self) -> ServicePort:
        if self.protocol is None:
            self.protocol = "TCP"
        if self.target_port is None and self.port is not None:
            self.target_port = self.port
        return self


class ServiceSpec(K8sModel):
    ports: list[ServicePort] | None = Field(None, json_schema_extra=merge_by("port"))
    selector: dict[str, str] | None = None
    cluster_ip: str | None = Field(None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(None, alias="clusterIPs")
    type: str | None = None
    external_ips: list[str] | None = Field(None, alias="externalIPs")
    session_affinity: str | None = None
    load_balancer_ip: str | None = Field(None, alias="loadBalancerIP")
    load_balancer_source_ranges: list[str] | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: Int32 | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
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


CLUSTER_IP_FAMILIES = ("IPv4",)  # the service CIDR (10.96.0.0/12) is the cluster's only one: single-stack IPv4
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]


def _ip_family_errors(spec: ServiceSpec) -> list[FieldError]:
    """ValidateService's checks of the families, then kube's allocator (initIPFamilyFields) on a
    cluster that has only CLUSTER_IP_FAMILIES: an IPv6 family or RequireDualStack is refused."""
    if spec.type == "ExternalName":
        return []
    out: list[FieldError] = []
    policy = spec.ip_family_policy
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        out.append(FieldError.not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    families = spec.ip_families or []
    for i, family in enumerate(families):
        if family not in IP_FAMILIES:
            out.append(FieldError.not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        elif family in families[:i]:
            out.append(FieldError.duplicate(f"spec.ipFamilies[{i}]", family))
    if out:
        return out
    if policy == "RequireDualStack":
        out.append(FieldError.invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                                                                      "services"))
    out += [FieldError.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster")
            for i, family in enumerate(families) if family not in CLUSTER_IP_FAMILIES]
    return out


class Service(K8sObject):
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None

    def name_is_dns_label(self) -> bool:
        return True

    def prepare_for_create(self) -> None:
        self.status = ServiceStatus(load_balancer=LoadBalancerStatus())

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
        out += _ip_family_errors(spec)
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
    target_ref: ObjectReference | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    port: Int32 | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(K8sObject):
    spec_fields = ()
    subsets: list[EndpointSubset] | None = None


# --- ConfigMap, Secret --------------------------------------------------------------------------

_MAX_DATA = 1024 * 1024


def _data_errors(keys: list[str], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in keys:
        out += [FieldError.invalid(path, key, e) for e in config_key_errors(key)]
    return out


class ConfigMap(K8sObject):
    spec_fields = ()
    data: dict[str, str] | None = None
    binary_data: dict[str, Base64Bytes] | None = None
    immutable: bool | None = None

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
    spec_fields = ()
    data: dict[str, Base64Bytes] | None = None
    string_data: dict[str, str] | None = None
    type: str | None = None
    immutable: bool | None = None

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
    capacity: ResourceList | None = None
    access_modes: list[str] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: list[str] | None = None
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None
    host_path: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    csi: CSIPersistentVolumeSource | None = None
    # the other volume sources of the 1.35 API: accepted and kept, not provisioned here
    aws_elastic_block_store: AWSElasticBlockStoreVolumeSource | None = None
    azure_disk: AzureDiskVolumeSource | None = None
    azure_file: AzureFilePersistentVolumeSource | None = None
    cephfs: CephFSPersistentVolumeSource | None = None
    cinder: CinderPersistentVolumeSource | None = None
    fc: FCVolumeSource | None = None
    flex_volume: FlexPersistentVolumeSource | None = None
    flocker: FlockerVolumeSource | None = None
    gce_persistent_disk: GCEPersistentDiskVolumeSource | None = None
    glusterfs: GlusterfsPersistentVolumeSource | None = None
    iscsi: ISCSIPersistentVolumeSource | None = None
    photon_persistent_disk: PhotonPersistentDiskVolumeSource | None = None
    portworx_volume: PortworxVolumeSource | None = None
    quobyte: QuobyteVolumeSource | None = None
    rbd: RBDPersistentVolumeSource | None = None
    scale_io: ScaleIOPersistentVolumeSource | None = Field(None, alias="scaleIO")
    storageos: StorageOSPersistentVolumeSource | None = None
    vsphere_volume: VsphereVirtualDiskVolumeSource | None = None

    @model_validator(mode="after")
    def _defaults(self) -> PersistentVolumeSpec:
        if self.persistent_volume_reclaim_policy is None:
            self.persistent_volume_reclaim_policy = "Retain"
        if self.volume_mode is None:
            self.volume_mode = "Filesystem"
        return self


class PersistentVolume(K8sObject):
    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None

    def prepare_for_create(self) -> None:
        self.status = PersistentVolumeStatus(phase="Pending")

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
    access_modes: list[str] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    volume_attributes_class_name: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> PVCSpec:
        if self.volume_mode is None:
            self.volume_mode = "Filesystem"
        return self


class PersistentVolumeClaim(K8sObject):
    spec: PVCSpec | None = None
    status: PersistentVolumeClaimStatus | None = None

    def prepare_for_create(self) -> None:
        self.status = PersistentVolumeClaimStatus(phase="Pending")

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
    storage = ((spec.resources.requests if spec.resources else None) or {}).get("storage")
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


class Event(K8sObject):
    spec_fields = ()
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: Int32 | None = None
    type: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None
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
