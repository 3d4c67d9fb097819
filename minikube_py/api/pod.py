"""The Pod and its parts (containers, probes, volumes, the pod template) with Kubernetes' defaults.

Used by core.py (Pod), apps.py (templates of Deployment, ReplicaSet, StatefulSet), the
apiserver (decoding, validation) and later the kubelet.  Sub-objects this code does not act on
(securityContext, lifecycle, pod affinity, projected volumes...) are the typed models of parts.py,
generated from the Kubernetes 1.35 definitions.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from . import quantity
from .errors import FieldError
from .meta import (
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    K8sObject,
    ObjectMeta,
    Quantity,
    dns1123_label_errors,
    label_selector_errors,
    merge_by,
    patch_strategy,
)
from .parts import (
    AWSElasticBlockStoreVolumeSource,
    AzureDiskVolumeSource,
    AzureFileVolumeSource,
    CephFSVolumeSource,
    CinderVolumeSource,
    ContainerResizePolicy,
    ContainerRestartRule,
    ContainerState,
    ContainerUser,
    CSIVolumeSource,
    DownwardAPIVolumeSource,
    EphemeralContainer,
    EphemeralVolumeSource,
    FCVolumeSource,
    FileKeySelector,
    FlexVolumeSource,
    FlockerVolumeSource,
    GCEPersistentDiskVolumeSource,
    GitRepoVolumeSource,
    GlusterfsVolumeSource,
    HostAlias,
    ImageVolumeSource,
    ISCSIVolumeSource,
    Lifecycle,
    NFSVolumeSource,
    PhotonPersistentDiskVolumeSource,
    PodAffinity,
    PodAntiAffinity,
    PodDNSConfig,
    PodExtendedResourceClaimStatus,
    PodOS,
    PodReadinessGate,
    PodResourceClaim,
    PodResourceClaimStatus,
    PodSchedulingGate,
    PodSecurityContext,
    PortworxVolumeSource,
    ProjectedVolumeSource,
    QuobyteVolumeSource,
    RBDVolumeSource,
    ResourceClaim,
    ResourceStatus,
    ScaleIOVolumeSource,
    SecurityContext,
    StorageOSVolumeSource,
    TopologySpreadConstraint,
    VolumeDevice,
    VolumeMountStatus,
    VsphereVirtualDiskVolumeSource,
    WorkloadReference,
)

ResourceList = dict[str, Quantity]
Free = dict[str, Any]  # an untyped map: only where 1.35 has one (tests/unit/test_api_fields.py checks)


class ObjectFieldSelector(K8sModel):
    api_version: str | None = None
    field_path: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> ObjectFieldSelector:
        if self.api_version is None:
            self.api_version = "v1"
        return self


class KeySelector(K8sModel):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class ResourceFieldSelector(K8sModel):
    container_name: str | None = None
    resource: str | None = None
    divisor: Quantity | None = None


class EnvVarSource(K8sModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None
    file_key_ref: FileKeySelector | None = None


class EnvVar(K8sModel):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class LocalRef(K8sModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(K8sModel):
    prefix: str | None = None
    config_map_ref: LocalRef | None = None
    secret_ref: LocalRef | None = None


class ContainerPort(K8sModel):
    name: str | None = None
    host_port: Int32 | None = None
    container_port: Int32 | None = None
    protocol: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")

    @model_validator(mode="after")
    def _defaults(self) -> ContainerPort:
        if self.protocol is None:
            self.protocol = "TCP"
        return self


class ResourceRequirements(K8sModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[ResourceClaim] | None = None


class VolumeMount(K8sModel):
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    mount_propagation: str | None = None
    sub_path_expr: str | None = None


class HTTPHeader(K8sModel):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(K8sModel):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[HTTPHeader] | None = None

    @model_validator(mode="after")
    def _defaults(self) -> HTTPGetAction:
        if self.path is None:
            self.path = "/"
        if self.scheme is None:
            self.scheme = "HTTP"
        return self


class ExecAction(K8sModel):
    command: list[str] | None = None


class TCPSocketAction(K8sModel):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(K8sModel):
    port: Int32 | None = None
    service: str | None = None


class Probe(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None
    termination_grace_period_seconds: Int64 | None = None

    @model_validator(mode="after")
    def _defaults(self) -> Probe:
        self.timeout_seconds = 1 if self.timeout_seconds is None else self.timeout_seconds
        self.period_seconds = 10 if self.period_seconds is None else self.period_seconds
        self.success_threshold = 1 if self.success_threshold is None else self.success_threshold
        self.failure_threshold = 3 if self.failure_threshold is None else self.failure_threshold
        return self

    def handlers(self) -> int:
        return sum(x is not None for x in (self.exec, self.http_get, self.tcp_socket, self.grpc))


class Container(K8sModel):
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = Field(None, json_schema_extra=merge_by("containerPort"))
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = Field(None, json_schema_extra=merge_by("name"))
    resources: ResourceRequirements | None = None
    resize_policy: list[ContainerResizePolicy] | None = None
    restart_policy: str | None = None
    restart_policy_rules: list[ContainerRestartRule] | None = None  # ContainerRestartRules: beta, on in 1.35
    volume_mounts: list[VolumeMount] | None = Field(None, json_schema_extra=merge_by("mountPath"))
    volume_devices: list[VolumeDevice] | None = Field(None, json_schema_extra=merge_by("devicePath"))
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None

    @model_validator(mode="after")
    def _defaults(self) -> Container:
        if self.termination_message_path is None:
            self.termination_message_path = "/dev/termination-log"
        if self.termination_message_policy is None:
            self.termination_message_policy = "File"
        if self.image_pull_policy is None and self.image:
            self.image_pull_policy = "Always" if _image_tag(self.image) in ("", "latest") else "IfNotPresent"
        return self


def _image_tag(image: str) -> str:
    """"" when the image has no tag and no digest; "latest" for :latest."""
    if "@" in image:
        return "digest"
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


class KeyToPath(K8sModel):
    key: str | None = None
    path: str | None = None
    mode: Int32 | None = None


class ConfigMapVolumeSource(K8sModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None

    @model_validator(mode="after")
    def _defaults(self) -> ConfigMapVolumeSource:
        if self.default_mode is None:
            self.default_mode = 0o644
        return self


class SecretVolumeSource(K8sModel):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None

    @model_validator(mode="after")
    def _defaults(self) -> SecretVolumeSource:
        if self.default_mode is None:
            self.default_mode = 0o644
        return self


class EmptyDirVolumeSource(K8sModel):
    medium: str | None = None
    size_limit: Quantity | None = None


class HostPathVolumeSource(K8sModel):
    path: str | None = None
    type: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> HostPathVolumeSource:
        if self.type is None:
            self.type = ""
        return self


class PVCVolumeSource(K8sModel):
    claim_name: str | None = None
    read_only: bool | None = None


_VOLUME_SOURCES = ("empty_dir", "host_path", "config_map", "secret", "persistent_volume_claim", "projected",
                   "downward_api", "nfs", "csi", "ephemeral", "image", "iscsi", "fc", "git_repo",
                   "aws_elastic_block_store", "azure_disk", "azure_file", "cephfs", "cinder", "flex_volume", "flocker",
                   "gce_persistent_disk", "glusterfs", "photon_persistent_disk", "portworx_volume", "quobyte", "rbd",
                   "scale_io", "storageos", "vsphere_volume")


class Volume(K8sModel):
    name: str | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistent_volume_claim: PVCVolumeSource | None = None
    projected: ProjectedVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(None, alias="downwardAPI")
    nfs: NFSVolumeSource | None = None
    csi: CSIVolumeSource | None = None
    ephemeral: EphemeralVolumeSource | None = None
    image: ImageVolumeSource | None = None
    iscsi: ISCSIVolumeSource | None = None
    fc: FCVolumeSource | None = None
    git_repo: GitRepoVolumeSource | None = None
    # the in-tree sources of the 1.35 API: accepted and kept, mounted by no node here
    aws_elastic_block_store: AWSElasticBlockStoreVolumeSource | None = None
    azure_disk: AzureDiskVolumeSource | None = None
    azure_file: AzureFileVolumeSource | None = None
    cephfs: CephFSVolumeSource | None = None
    cinder: CinderVolumeSource | None = None
    flex_volume: FlexVolumeSource | None = None
    flocker: FlockerVolumeSource | None = None
    gce_persistent_disk: GCEPersistentDiskVolumeSource | None = None
    glusterfs: GlusterfsVolumeSource | None = None
    photon_persistent_disk: PhotonPersistentDiskVolumeSource | None = None
    portworx_volume: PortworxVolumeSource | None = None
    quobyte: QuobyteVolumeSource | None = None
    rbd: RBDVolumeSource | None = None
    scale_io: ScaleIOVolumeSource | None = Field(None, alias="scaleIO")
    storageos: StorageOSVolumeSource | None = None
    vsphere_volume: VsphereVirtualDiskVolumeSource | None = None


class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: Int64 | None = None


class NodeSelectorRequirement(K8sModel):
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class NodeSelectorTerm(K8sModel):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm] | None = None


class PreferredSchedulingTerm(K8sModel):
    weight: Int32 | None = None
    preference: NodeSelectorTerm | None = None


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class LocalObjectReference(K8sModel):
    name: str | None = None


class PodSpec(K8sModel):
    volumes: list[Volume] | None = Field(None, json_schema_extra=merge_by("name", retain_keys=True))
    init_containers: list[Container] | None = Field(None, json_schema_extra=merge_by("name"))
    containers: list[Container] | None = Field(None, json_schema_extra=merge_by("name"))
    ephemeral_containers: list[EphemeralContainer] | None = Field(None, json_schema_extra=merge_by("name"))
    restart_policy: str | None = None
    termination_grace_period_seconds: Int64 | None = None
    active_deadline_seconds: Int64 | None = None
    dns_policy: str | None = None
    node_selector: dict[str, str] | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = Field(None, alias="hostPID")
    host_ipc: bool | None = Field(None, alias="hostIPC")
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    image_pull_secrets: list[LocalObjectReference] | None = Field(None, json_schema_extra=merge_by("name"))
    hostname: str | None = None
    hostname_override: str | None = None  # HostnameOverride: beta, on in 1.35
    subdomain: str | None = None
    affinity: Affinity | None = None
    scheduler_name: str | None = None
    tolerations: list[Toleration] | None = None
    host_aliases: list[HostAlias] | None = Field(None, json_schema_extra=merge_by("ip"))
    priority_class_name: str | None = None
    priority: Int32 | None = None
    dns_config: PodDNSConfig | None = None
    readiness_gates: list[PodReadinessGate] | None = None
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = Field(None, json_schema_extra=merge_by("topologyKey"))
    set_hostname_as_fqdn: bool | None = Field(None, alias="setHostnameAsFQDN")
    os: PodOS | None = None
    host_users: bool | None = None
    scheduling_gates: list[PodSchedulingGate] | None = Field(None, json_schema_extra=merge_by("name"))
    resource_claims: list[PodResourceClaim] | None = Field(None, json_schema_extra=merge_by("name", retain_keys=True))
    resources: ResourceRequirements | None = None
    workload_ref: WorkloadReference | None = None  # GenericWorkload: alpha, off in 1.35

    @model_validator(mode="after")
    def _defaults(self) -> PodSpec:
        _drop_disabled_fields(self)
        if self.restart_policy is None:
            self.restart_policy = "Always"
        if self.termination_grace_period_seconds is None:
            self.termination_grace_period_seconds = 30
        if self.dns_policy is None:
            self.dns_policy = "ClusterFirst"
        if self.scheduler_name is None:
            self.scheduler_name = "default-scheduler"
        if self.security_context is None:
            self.security_context = PodSecurityContext()
        if self.enable_service_links is None:
            self.enable_service_links = True
        if self.service_account and not self.service_account_name:
            self.service_account_name = self.service_account
        return self


def _drop_disabled_fields(spec: PodSpec) -> None:
    """kube-apiserver's dropDisabledPodFields for the gates that are off in 1.35: the fields are
    accepted and dropped (GenericWorkload: workloadRef; ContainerStopSignals: lifecycle.stopSignal;
    ClusterTrustBundleProjection and PodCertificateRequest: those projected volume sources)."""
    spec.workload_ref = None
    for c in [*(spec.containers or []), *(spec.init_containers or [])]:
        if c.lifecycle is not None:
            c.lifecycle.stop_signal = None
    for v in spec.volumes or []:
        for source in (v.projected.sources or []) if v.projected is not None else []:
            source.cluster_trust_bundle = None
            source.pod_certificate = None


class PodCondition(K8sModel):
    type: str | None = None
    observed_generation: Int64 | None = None
    status: str | None = None
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ContainerStatus(K8sModel):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: Int32 | None = None
    image: str | None = None
    image_id: str | None = Field(None, alias="imageID")
    container_id: str | None = Field(None, alias="containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMountStatus] | None = None
    user: ContainerUser | None = None
    allocated_resources_status: list[ResourceStatus] | None = None
    stop_signal: str | None = None


class PodIP(K8sModel):
    ip: str | None = None


class PodStatus(K8sModel):
    observed_generation: Int64 | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    host_ips: list[PodIP] | None = Field(None, alias="hostIPs")
    pod_ip: str | None = Field(None, alias="podIP")
    pod_ips: list[PodIP] | None = Field(None, alias="podIPs", json_schema_extra=merge_by("ip"))
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    resize: str | None = None
    resource_claim_statuses: list[PodResourceClaimStatus] | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    extended_resource_claim_status: PodExtendedResourceClaimStatus | None = None


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


def qos_class(spec: PodSpec) -> str:
    containers = list(spec.containers or []) + list(spec.init_containers or [])
    requests: dict[str, bool] = {}
    guaranteed, any_set = True, False
    for c in containers:
        res = c.resources or ResourceRequirements()
        limits, reqs = res.limits or {}, res.requests or {}
        if limits or reqs:
            any_set = True
        for name in ("cpu", "memory"):
            lim, req = limits.get(name), reqs.get(name, limits.get(name))
            if lim is None or req is None or quantity.parse(lim) != quantity.parse(req):
                guaranteed = False
            requests[name] = True
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class Pod(K8sObject):
    spec: PodSpec | None = None
    status: PodStatus | None = None

    def prepare_for_create(self) -> None:
        self.status = PodStatus(phase="Pending", qos_class=qos_class(self.spec or PodSpec()))

    def validation_errors(self) -> list[FieldError]:
        return pod_spec_errors(self.spec, "spec")

    def create_errors(self) -> list[FieldError]:
        """kube's ValidatePodCreate: ephemeral containers come only through their subresource."""
        spec = self.spec or PodSpec()
        out: list[FieldError] = []
        if spec.ephemeral_containers:
            out.append(FieldError.forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.node_name and spec.scheduling_gates:
            out.append(FieldError.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been "
                                                             "cleared"))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, Pod)
        return pod_update_errors(self, old)


# --- validation ---------------------------------------------------------------------------------

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]


def _port_errors(port: int | None, path: str, *, required: bool = True) -> list[FieldError]:
    if port is None:
        return [FieldError.required(path)] if required else []
    if not 1 <= port <= 65535:
        return [FieldError.invalid(path, port, "must be between 1 and 65535, inclusive")]
    return []


def _probe_errors(probe: Probe | None, path: str) -> list[FieldError]:
    if probe is None:
        return []
    out: list[FieldError] = []
    n = probe.handlers()
    if n == 0:
        out.append(FieldError.required(path, "must specify a handler type"))
    elif n > 1:
        out.append(FieldError.forbidden(path, "may not specify more than 1 handler type"))
    for attr, wire in (("initial_delay_seconds", "initialDelaySeconds"), ("timeout_seconds", "timeoutSeconds"),
                       ("period_seconds", "periodSeconds"), ("success_threshold", "successThreshold"),
                       ("failure_threshold", "failureThreshold")):
        value = getattr(probe, attr)
        if value is not None and value < 0:
            out.append(FieldError.invalid(f"{path}.{wire}", value, "must be greater than or equal to 0"))
    if probe.http_get is not None and isinstance(probe.http_get.port, int):
        out += _port_errors(probe.http_get.port, f"{path}.httpGet.port")
    if probe.tcp_socket is not None and isinstance(probe.tcp_socket.port, int):
        out += _port_errors(probe.tcp_socket.port, f"{path}.tcpSocket.port")
    return out


def _resources_errors(res: ResourceRequirements | None, path: str) -> list[FieldError]:
    if res is None:
        return []
    out: list[FieldError] = []
    for kind, values in (("limits", res.limits or {}), ("requests", res.requests or {})):
        for name, value in values.items():
            if quantity.parse(value) < 0:
                out.append(FieldError.invalid(f"{path}.{kind}[{name}]", value, "must be greater than or equal to 0"))
    for name, req in (res.requests or {}).items():
        lim = (res.limits or {}).get(name)
        if lim is not None and quantity.parse(req) > quantity.parse(lim):
            out.append(FieldError.invalid(f"{path}.requests", req, f"must be less than or equal to {name} limit of "
                                                                   f"{lim}"))
    return out


def _container_errors(c: Container, path: str, volumes: set[str], seen: set[str]) -> list[FieldError]:
    out: list[FieldError] = []
    if not c.name:
        out.append(FieldError.required(f"{path}.name"))
    else:
        out += [FieldError.invalid(f"{path}.name", c.name, e) for e in dns1123_label_errors(c.name)]
        if c.name in seen:
            out.append(FieldError.duplicate(f"{path}.name", c.name))
        seen.add(c.name)
    if not c.image:
        out.append(FieldError.required(f"{path}.image"))
    if c.image_pull_policy is not None and c.image_pull_policy not in PULL_POLICIES:
        out.append(FieldError.not_supported(f"{path}.imagePullPolicy", c.image_pull_policy, PULL_POLICIES))
    port_names: set[str] = set()
    for i, p in enumerate(c.ports or []):
        pp = f"{path}.ports[{i}]"
        out += _port_errors(p.container_port, f"{pp}.containerPort")
        out += _port_errors(p.host_port, f"{pp}.hostPort", required=False)
        if p.protocol not in PROTOCOLS:
            out.append(FieldError.not_supported(f"{pp}.protocol", p.protocol, PROTOCOLS))
        if p.name:
            if p.name in port_names:
                out.append(FieldError.duplicate(f"{pp}.name", p.name))
            port_names.add(p.name)
    for i, env in enumerate(c.env or []):
        if not env.name:
            out.append(FieldError.required(f"{path}.env[{i}].name"))
        elif not _ENV_NAME.match(env.name):
            out.append(FieldError.invalid(f"{path}.env[{i}].name", env.name,
                                          "a valid environment variable name must consist of alphabetic characters, "
                                          "digits, '_', '-', or '.', and must not start with a digit"))
        if env.value and env.value_from is not None:
            out.append(FieldError.invalid(f"{path}.env[{i}].valueFrom", "", "may not be specified when `value` is "
                                                                            "not empty"))
    mount_paths: set[str] = set()
    for i, m in enumerate(c.volume_mounts or []):
        mp = f"{path}.volumeMounts[{i}]"
        if not m.name:
            out.append(FieldError.required(f"{mp}.name"))
        elif m.name not in volumes:
            out.append(FieldError("FieldValueNotFound", f"{mp}.name", "", m.name, True))
        if not m.mount_path:
            out.append(FieldError.required(f"{mp}.mountPath"))
        elif m.mount_path in mount_paths:
            out.append(FieldError.invalid(f"{mp}.mountPath", m.mount_path, "must be unique"))
        else:
            mount_paths.add(m.mount_path)
    for attr, wire in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe"),
                       ("startup_probe", "startupProbe")):
        out += _probe_errors(getattr(c, attr), f"{path}.{wire}")
    out += _resources_errors(c.resources, f"{path}.resources")
    return out


def pod_spec_errors(spec: PodSpec | None, path: str) -> list[FieldError]:
    if spec is None:
        return [FieldError.required(f"{path}.containers")]
    out: list[FieldError] = []
    volumes: set[str] = set()
    for i, v in enumerate(spec.volumes or []):
        vp = f"{path}.volumes[{i}]"
        if not v.name:
            out.append(FieldError.required(f"{vp}.name"))
        else:
            out += [FieldError.invalid(f"{vp}.name", v.name, e) for e in dns1123_label_errors(v.name)]
            if v.name in volumes:
                out.append(FieldError.duplicate(f"{vp}.name", v.name))
            volumes.add(v.name)
        sources = [s for s in _VOLUME_SOURCES if getattr(v, s) is not None]
        if len(sources) > 1:
            out.append(FieldError.forbidden(vp, "may not specify more than 1 volume type"))
        if v.persistent_volume_claim is not None and not v.persistent_volume_claim.claim_name:
            out.append(FieldError.required(f"{vp}.persistentVolumeClaim.claimName"))
        if v.host_path is not None and not v.host_path.path:
            out.append(FieldError.required(f"{vp}.hostPath.path"))
    if not spec.containers:
        out.append(FieldError.required(f"{path}.containers"))
    seen: set[str] = set()
    for i, c in enumerate(spec.init_containers or []):
        out += _container_errors(c, f"{path}.initContainers[{i}]", volumes, seen)
    for i, c in enumerate(spec.containers or []):
        out += _container_errors(c, f"{path}.containers[{i}]", volumes, seen)
    if spec.restart_policy not in RESTART_POLICIES:
        out.append(FieldError.not_supported(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES))
    if spec.dns_policy not in DNS_POLICIES:
        out.append(FieldError.not_supported(f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES))
    if spec.termination_grace_period_seconds is not None and spec.termination_grace_period_seconds < 0:
        out.append(FieldError.invalid(f"{path}.terminationGracePeriodSeconds", spec.termination_grace_period_seconds,
                                      "must be greater than or equal to 0"))
    if spec.active_deadline_seconds is not None and spec.active_deadline_seconds < 1:
        out.append(FieldError.invalid(f"{path}.activeDeadlineSeconds", spec.active_deadline_seconds,
                                      "must be between 1 and 2147483647, inclusive"))
    for i, t in enumerate(spec.tolerations or []):
        ops = ["Equal", "Exists"]
        if t.operator is not None and t.operator not in ops:
            out.append(FieldError.not_supported(f"{path}.tolerations[{i}].operator", t.operator, ops))
        effects = ["NoExecute", "NoSchedule", "PreferNoSchedule"]
        if t.effect and t.effect not in effects:
            out.append(FieldError.not_supported(f"{path}.tolerations[{i}].effect", t.effect, effects))
    if spec.hostname:
        out += [FieldError.invalid(f"{path}.hostname", spec.hostname, e) for e in dns1123_label_errors(spec.hostname)]
    return out


def pod_template_errors(tmpl: PodTemplateSpec | None, path: str) -> list[FieldError]:
    if tmpl is None:
        return [FieldError.required(path)]
    from .meta import labels_errors

    out = labels_errors((tmpl.metadata or ObjectMeta()).labels, f"{path}.metadata.labels")
    out += pod_spec_errors(tmpl.spec, f"{path}.spec")
    return out


def pod_update_errors(new: Pod, old: Pod) -> list[FieldError]:
    """Pod specs are immutable but for images, activeDeadlineSeconds, tolerations (additions)."""
    if new.spec is None or old.spec is None:
        return []
    a, b = new.spec.model_copy(deep=True), old.spec
    for mine, theirs in zip(a.containers or [], b.containers or [], strict=False):
        mine.image = theirs.image
        mine.image_pull_policy = theirs.image_pull_policy
    for mine, theirs in zip(a.init_containers or [], b.init_containers or [], strict=False):
        mine.image = theirs.image
        mine.image_pull_policy = theirs.image_pull_policy
    a.active_deadline_seconds = b.active_deadline_seconds
    a.tolerations = b.tolerations
    if not b.node_name:
        a.node_name = b.node_name
    a.scheduling_gates = b.scheduling_gates
    if a.model_dump() != b.model_dump():
        return [FieldError.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                             "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                                             "`spec.tolerations` (only additions to existing tolerations),"
                                             "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                                             "was previously negative)")]
    return []


def selector_errors(sel: Any, path: str) -> list[FieldError]:
    return label_selector_errors(sel, path)


__all__ = ["Pod", "PodSpec", "PodTemplateSpec", "Container", "pod_spec_errors", "pod_template_errors",
           "patch_strategy"]
