"""core/v1 kinds other than Pod (pod.py): Namespace, Node, Service, Endpoints, ConfigMap, Secret,
PersistentVolume, PersistentVolumeClaim, Event, ServiceAccount.  The kinds table (kinds.py) maps them to routes.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import Field, model_validator

from . import quantity
from .b64 import Base64Bytes, decoded_size
from .errors import FieldError
from .meta import Int32, IntOrString, K8sModel, K8sObject, LabelSelector, config_key_errors, merge_by
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
    LocalObjectReference,
    Pod,
    PodSpec,
    PodTemplateSpec,
    Quantity,
    ResourceList,
    Toleration,
    pod_spec_errors,
    pod_template_errors,
)
from .structs import HostPathVolumeSource

__all__ = ["Namespace", "Node", "Pod", "PodSpec", "PodTemplateSpec", "Service", "Endpoints", "ConfigMap", "Secret",
           "PersistentVolume", "PersistentVolumeClaim", "Event", "ServiceAccount", "pod_spec_errors",
           "pod_template_errors"]


# --- Namespace ----------------------------------------------------------------------------------


class NamespaceSpec(K8sModel):
    """The desired state of a namespace."""
    finalizers: list[str] | None = None
    """Cleanups that must finish before the namespace is removed (kubernetes, for its content)."""


class NamespaceStatus(K8sModel):
    """The observed state of a namespace."""
    phase: str | None = None
    """Active, or Terminating while its objects are deleted."""
    conditions: list[NamespaceCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Conditions about the namespace's deletion."""


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
    """A mark on a node that repels pods that do not tolerate it."""
    key: str | None = None
    """The taint key."""
    value: str | None = None
    """The taint value."""
    effect: str | None = None
    """NoSchedule, PreferNoSchedule or NoExecute (which also evicts running pods)."""
    time_added: str | None = None
    """When a NoExecute taint was added."""


class NodeSpec(K8sModel):
    """How a node is configured."""
    pod_cidr: str | None = Field(None, alias="podCIDR")
    """The address range of the node's pods."""
    pod_cidrs: list[str] | None = Field(None, alias="podCIDRs", json_schema_extra={"x-kubernetes-patch-strategy": "merge"})
    """The address ranges of the node's pods, one per IP family; the first equals podCIDR."""
    provider_id: str | None = Field(None, alias="providerID")
    """The node's ID at its cloud provider."""
    unschedulable: bool | None = None
    """When true (kubectl cordon), no new pods are scheduled to the node."""
    taints: list[Taint] | None = None
    """The node's taints."""
    config_source: NodeConfigSource | None = None
    """Deprecated: a dynamic kubelet configuration."""
    external_id: str | None = Field(None, alias="externalID")
    """Deprecated."""


class NodeCondition(K8sModel):
    """A condition of a node."""
    type: str | None = None
    """Ready, MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable."""
    status: str | None = None
    """True, False or Unknown."""
    last_heartbeat_time: str | None = None
    """When the node last reported this condition."""
    last_transition_time: str | None = None
    """When the status last changed."""
    reason: str | None = None
    """A one-word CamelCase reason for the last change."""
    message: str | None = None
    """A readable message about the last change."""


class NodeAddress(K8sModel):
    """An address of a node."""
    type: str | None = None
    """Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS."""
    address: str | None = None
    """The address."""


class NodeStatus(K8sModel):
    """The reported state of a node."""
    capacity: ResourceList | None = None
    """The node's total resources (cpu, memory, pods, ...)."""
    allocatable: ResourceList | None = None
    """The resources available to pods, after what the system reserves."""
    phase: str | None = None
    """Deprecated and unused."""
    conditions: list[NodeCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Conditions such as Ready."""
    addresses: list[NodeAddress] | None = Field(None, json_schema_extra=merge_by("type"))
    """The node's addresses."""
    daemon_endpoints: NodeDaemonEndpoints | None = None
    """The ports of the node's kubelet."""
    node_info: NodeSystemInfo | None = None
    """Versions and identifiers of the node's software (kubelet, container runtime, OS)."""
    images: list[ContainerImage] | None = None
    """Container images present on the node."""
    volumes_in_use: list[str] | None = None
    """Volumes the node has mounted."""
    volumes_attached: list[AttachedVolume] | None = None
    """Volumes attached to the node."""
    config: NodeConfigStatus | None = None
    runtime_handlers: list[NodeRuntimeHandler] | None = None
    features: NodeFeatures | None = None
    declared_features: list[str] | None = None


class Node(K8sObject):
    """A machine that runs pods."""
    spec: NodeSpec | None = None
    """How the node is configured (pod CIDR, taints, unschedulable)."""
    status: NodeStatus | None = None
    """The node's reported state: capacity, conditions, addresses."""

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        """ValidateNodeUpdate: only the controller manager's first assignment sets the pod CIDRs; once set
        they may not change (nor be cleared)."""
        assert isinstance(old, Node)
        before, after = _pod_cidrs(old.spec), _pod_cidrs(self.spec)
        if before and before != after:
            return [FieldError.forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to '
                                                          "valid")]
        return []


def _pod_cidrs(spec: NodeSpec | None) -> list[str]:
    """spec.podCIDRs, or [spec.podCIDR] when only the singular field is set (kube's v1 conversion)."""
    if spec is None:
        return []
    return list(spec.pod_cidrs or ([spec.pod_cidr] if spec.pod_cidr else []))


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
    port: Int32 | None = None
    """The port the service listens on."""
    target_port: IntOrString | None = None
    """The port number or name on the pods to forward to; the value of port by default."""
    node_port: Int32 | None = None
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
    health_check_node_port: Int32 | None = None
    """The health check port of a LoadBalancer service with the Local policy."""
    publish_not_ready_addresses: bool | None = None
    """List pods in the endpoints even when they are not ready."""
    session_affinity_config: SessionAffinityConfig | None = None
    """Settings of ClientIP session affinity (its timeout)."""
    ip_families: list[str] | None = None
    """The IP families (IPv4, IPv6) of the service's addresses."""
    ip_family_policy: str | None = None
    """SingleStack (the default), PreferDualStack or RequireDualStack."""
    allocate_load_balancer_node_ports: bool | None = None
    """Whether LoadBalancer services get node ports (true by default)."""
    load_balancer_class: str | None = None
    """The load balancer implementation to use."""
    internal_traffic_policy: str | None = None
    """Cluster (the default) or Local, for traffic from inside the cluster."""
    traffic_distribution: str | None = None
    """A preference for how traffic is spread over endpoints, such as PreferClose."""

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
    cluster that has only CLUSTER_IP_FAMILIES: an IPv6 family or RequireDualStack is refused, except
    on a headless Service without a selector, which the allocator special-cases before both checks."""
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
    if spec.cluster_ip == "None" and not spec.selector:
        return []  # headless and selectorless: kube's allocator lets any families through (it fills in both)
    if policy == "RequireDualStack":
        out.append(FieldError.invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                                                                      "services"))
    out += [FieldError.invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster")
            for i, family in enumerate(families) if family not in CLUSTER_IP_FAMILIES]
    return out


class Service(K8sObject):
    """A stable virtual address and DNS name for a set of pods chosen by labels, balancing traffic over
    them."""
    spec: ServiceSpec | None = None
    """The desired state of the service."""
    status: ServiceStatus | None = None
    """The observed state of the service (load balancer addresses)."""

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
        elif not spec.ports and spec.cluster_ip != "None":  # ValidateService: a headless Service needs no ports
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
    """One address of an endpoint."""
    ip: str | None = None
    """The pod's IP address."""
    hostname: str | None = None
    """The pod's hostname."""
    node_name: str | None = None
    """The node the pod runs on."""
    target_ref: ObjectReference | None = None
    """The pod behind the address."""


class EndpointPort(K8sModel):
    """A port of an endpoint."""
    name: str | None = None
    """The name of the matching service port."""
    port: Int32 | None = None
    """The port number."""
    protocol: str | None = None
    """TCP, UDP or SCTP."""
    app_protocol: str | None = None
    """The application protocol of the port."""


class EndpointSubset(K8sModel):
    """Addresses that all have the same ports."""
    addresses: list[EndpointAddress] | None = None
    """Addresses of ready pods."""
    not_ready_addresses: list[EndpointAddress] | None = None
    """Addresses of pods that are not ready yet."""
    ports: list[EndpointPort] | None = None
    """The ports of every address."""


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
    """A piece of storage and how it may be used."""
    capacity: ResourceList | None = None
    """The volume's size (storage)."""
    access_modes: list[str] | None = None
    """How the volume may be mounted: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."""
    claim_ref: ObjectReference | None = None
    """The claim the volume is bound to."""
    persistent_volume_reclaim_policy: str | None = None
    """Retain, Delete or Recycle: what happens when the claim is released."""
    storage_class_name: str | None = None
    """The StorageClass the volume belongs to."""
    mount_options: list[str] | None = None
    """Mount options."""
    volume_mode: str | None = None
    """Filesystem (the default) or Block."""
    node_affinity: VolumeNodeAffinity | None = None
    """The nodes the volume can be used from."""
    volume_attributes_class_name: str | None = None
    host_path: HostPathVolumeSource | None = None
    """A directory of a node (single-node testing only)."""
    local: LocalVolumeSource | None = None
    """A local disk of a node."""
    nfs: NFSVolumeSource | None = None
    """An NFS export."""
    csi: CSIPersistentVolumeSource | None = None
    """A volume of a CSI driver."""
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
    """A piece of storage in the cluster, provisioned by an administrator or by a StorageClass."""
    spec: PersistentVolumeSpec | None = None
    """The volume's storage and how it may be used."""
    status: PersistentVolumeStatus | None = None
    """The volume's phase (Available, Bound, Released, Failed)."""

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
    """The storage a claim asks for."""
    access_modes: list[str] | None = None
    """How the volume may be mounted: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."""
    selector: LabelSelector | None = None
    """Labels of the volumes the claim may bind to."""
    resources: VolumeResourceRequirements | None = None
    """The storage size to request (resources.requests.storage)."""
    volume_name: str | None = None
    """The volume to bind to, by name."""
    storage_class_name: str | None = None
    """The StorageClass to provision from; the default class when not set."""
    volume_mode: str | None = None
    """Filesystem (the default) or Block."""
    data_source: TypedLocalObjectReference | None = None
    """An object to fill the new volume from (a snapshot or another claim)."""
    data_source_ref: TypedObjectReference | None = None
    """Like dataSource, and may name objects of any group."""
    volume_attributes_class_name: str | None = None
    """The VolumeAttributesClass of the volume."""

    @model_validator(mode="after")
    def _defaults(self) -> PVCSpec:
        if self.volume_mode is None:
            self.volume_mode = "Filesystem"
        return self


class PersistentVolumeClaim(K8sObject):
    """A request for storage, bound to a PersistentVolume that satisfies it."""
    spec: PVCSpec | None = None
    """The storage asked for."""
    status: PersistentVolumeClaimStatus | None = None
    """The claim's phase and bound capacity."""

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
    """A report of something that happened to an object, such as a pod being scheduled or an image pulled."""
    spec_fields = ()
    involved_object: ObjectReference | None = None
    """The object the event is about."""
    reason: str | None = None
    """A short CamelCase reason, such as Scheduled."""
    message: str | None = None
    """A readable description."""
    source: EventSource | None = None
    """The component that reported the event."""
    first_timestamp: str | None = None
    """When the event was first seen."""
    last_timestamp: str | None = None
    """When the event was last seen."""
    count: Int32 | None = None
    """How many times it happened."""
    type: str | None = None
    """Normal or Warning."""
    event_time: str | None = None
    """When the event happened, in microseconds."""
    series: EventSeries | None = None
    """Data about a series of repeated events."""
    action: str | None = None
    """What was done (or failed)."""
    related: ObjectReference | None = None
    """A second object involved."""
    reporting_component: str | None = None
    """The controller that reported the event."""
    reporting_instance: str | None = None
    """The instance of that controller."""

    def validation_errors(self) -> list[FieldError]:
        out: list[FieldError] = []
        if self.type not in (None, "Normal", "Warning"):
            out.append(FieldError.not_supported("type", self.type, ["Normal", "Warning"]))
        if self.involved_object is None or not self.involved_object.name:
            out.append(FieldError.required("involvedObject.name"))
        return out


# --- ServiceAccount -----------------------------------------------------------------------------


class ServiceAccount(K8sObject):
    """An identity for pods; the serviceaccounts controller keeps a `default` one in every
    namespace and pod admission names it when a pod names none.  Tokens come with access control."""

    spec_fields = ()
    secrets: list[ObjectReference] | None = Field(None, json_schema_extra=merge_by("name"))
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None


_unused: tuple[Any, ...] = (Quantity, Toleration, Pod)
