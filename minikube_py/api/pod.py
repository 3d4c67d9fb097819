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
from .structs import (
    ExecAction,
    HostPathVolumeSource,
    HTTPGetAction,
    KeyToPath,
    LocalObjectReference,
    NodeSelector,
    NodeSelectorTerm,
    ObjectFieldSelector,
    ResourceFieldSelector,
    TCPSocketAction,
)

ResourceList = dict[str, Quantity]
Free = dict[str, Any]  # an untyped map: only where 1.35 has one (tests/unit/test_api_fields.py checks)


class KeySelector(K8sModel):
    """Picks one key of a ConfigMap or a Secret."""
    name: str | None = None
    """The name of the ConfigMap or Secret, in the pod's namespace."""
    key: str | None = None
    """The key whose value is used."""
    optional: bool | None = None
    """When true, a missing object or key is not an error."""


class EnvVarSource(K8sModel):
    """Where an environment variable takes its value from."""
    field_ref: ObjectFieldSelector | None = None
    """A field of the pod."""
    resource_field_ref: ResourceFieldSelector | None = None
    """A resource request or limit of a container."""
    config_map_key_ref: KeySelector | None = None
    """A key of a ConfigMap."""
    secret_key_ref: KeySelector | None = None
    """A key of a Secret."""
    file_key_ref: FileKeySelector | None = None
    """A key of an environment file in a volume."""


class EnvVar(K8sModel):
    """An environment variable of a container."""
    name: str | None = None
    """The variable's name."""
    value: str | None = None
    """The value; $(OTHER) refers to a variable defined earlier. Leave empty when valueFrom is set."""
    value_from: EnvVarSource | None = None
    """A source for the value instead of a literal value."""


class LocalRef(K8sModel):
    """A ConfigMap or Secret in the pod's namespace, by name."""
    name: str | None = None
    """The object's name."""
    optional: bool | None = None
    """When true, a missing object is not an error."""


class EnvFromSource(K8sModel):
    """A ConfigMap or Secret whose every key becomes an environment variable."""
    prefix: str | None = None
    """A prefix added to each variable name."""
    config_map_ref: LocalRef | None = None
    """The ConfigMap to read."""
    secret_ref: LocalRef | None = None
    """The Secret to read."""


class ContainerPort(K8sModel):
    """A network port the container listens on."""
    name: str | None = None
    """A name for the port (an IANA service name), which services can refer to as targetPort."""
    host_port: Int32 | None = None
    """A port of the node to expose the container port on; most pods do not need one."""
    container_port: Int32 | None = None
    """The port number, on the pod's IP address (1 to 65535)."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""
    host_ip: str | None = Field(None, alias="hostIP")
    """The node address to bind hostPort to."""

    @model_validator(mode="after")
    def _defaults(self) -> ContainerPort:
        if self.protocol is None:
            self.protocol = "TCP"
        return self


class ResourceRequirements(K8sModel):
    """The compute resources a container asks for and may not exceed."""
    limits: ResourceList | None = None
    """The most of each resource (cpu, memory) the container may use."""
    requests: ResourceList | None = None
    """The amount of each resource the scheduler reserves for the container; defaults to the limits when
    only those are set."""
    claims: list[ResourceClaim] | None = None
    """Dynamically allocated resources (resource claims) the container uses."""


class VolumeMount(K8sModel):
    """Where a volume of the pod appears inside the container."""
    name: str | None = None
    """The name of the pod's volume (or of a StatefulSet's claim template)."""
    read_only: bool | None = None
    """Mount read-only when true."""
    recursive_read_only: str | None = None
    """Whether read-only applies to sub-mounts too (Disabled, IfPossible, Enabled)."""
    mount_path: str | None = None
    """The path in the container; must not contain ':'."""
    sub_path: str | None = None
    """A path inside the volume to mount instead of its root."""
    mount_propagation: str | None = None
    """How mounts propagate between host and container (None, HostToContainer, Bidirectional)."""
    sub_path_expr: str | None = None
    """Like subPath, with $(VAR) expanded from the container's environment."""


class GRPCAction(K8sModel):
    """A gRPC health check a probe makes."""
    port: Int32 | None = None
    """The port of the gRPC service."""
    service: str | None = None
    """The service name sent in the health check request."""


class Probe(K8sModel):
    """A periodic check of a container: exactly one of exec, httpGet, tcpSocket or grpc, with its timing."""
    exec: ExecAction | None = None
    """Run a command in the container."""
    http_get: HTTPGetAction | None = None
    """Make an HTTP GET request."""
    tcp_socket: TCPSocketAction | None = None
    """Open a TCP connection."""
    grpc: GRPCAction | None = None
    """Make a gRPC health check."""
    initial_delay_seconds: Int32 | None = None
    """Seconds after the container starts before the first check."""
    timeout_seconds: Int32 | None = None
    """Seconds a check may take before it counts as failed (1 by default)."""
    period_seconds: Int32 | None = None
    """Seconds between checks (10 by default)."""
    success_threshold: Int32 | None = None
    """Consecutive successes that count as success after a failure (1 by default; 1 for liveness and
    startup)."""
    failure_threshold: Int32 | None = None
    """Consecutive failures that count as failure (3 by default)."""
    termination_grace_period_seconds: Int64 | None = None
    """Seconds the container gets to stop after a failed liveness or startup probe, instead of the pod's
    grace period."""

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
    """A container of a pod: an image to run, with its command, environment, ports, volumes, resources and
    probes."""
    name: str | None = None
    """The container's name, unique within the pod (a DNS label)."""
    image: str | None = None
    """The container image to run, such as nginx:1.25."""
    command: list[str] | None = None
    """The entrypoint, replacing the image's ENTRYPOINT; $(VAR) is expanded. Not run in a shell."""
    args: list[str] | None = None
    """Arguments to the entrypoint, replacing the image's CMD; $(VAR) is expanded."""
    working_dir: str | None = None
    """The working directory; the image's by default."""
    ports: list[ContainerPort] | None = Field(None, json_schema_extra=merge_by("containerPort"))
    """Ports the container exposes; informational, any port the process listens on is reachable."""
    env_from: list[EnvFromSource] | None = None
    """ConfigMaps and Secrets whose keys become environment variables."""
    env: list[EnvVar] | None = Field(None, json_schema_extra=merge_by("name"))
    """Environment variables to set."""
    resources: ResourceRequirements | None = None
    """The compute resources the container requests and its limits."""
    resize_policy: list[ContainerResizePolicy] | None = None
    """How the container reacts to a change of its resources."""
    restart_policy: str | None = None
    """Always, for an init container that keeps running beside the others (a sidecar)."""
    restart_policy_rules: list[ContainerRestartRule] | None = None  # ContainerRestartRules: beta, on in 1.35
    volume_mounts: list[VolumeMount] | None = Field(None, json_schema_extra=merge_by("mountPath"))
    """The pod volumes to mount into the container's filesystem."""
    volume_devices: list[VolumeDevice] | None = Field(None, json_schema_extra=merge_by("devicePath"))
    """Block devices of the pod to expose to the container."""
    liveness_probe: Probe | None = None
    """A check that restarts the container when it fails."""
    readiness_probe: Probe | None = None
    """A check that takes the pod out of service endpoints while it fails."""
    startup_probe: Probe | None = None
    """A check that must succeed before the liveness and readiness probes start."""
    lifecycle: Lifecycle | None = None
    """Actions to run right after the container starts and before it stops."""
    termination_message_path: str | None = None
    """The file whose content becomes the container's termination message."""
    termination_message_policy: str | None = None
    """File (the default) or FallbackToLogsOnError."""
    image_pull_policy: str | None = None
    """Always, Never or IfNotPresent; Always when the tag is :latest or missing, IfNotPresent otherwise."""
    security_context: SecurityContext | None = None
    """Security options of the container (user, capabilities, privileges)."""
    stdin: bool | None = None
    """Keep a stdin open for the container."""
    stdin_once: bool | None = None
    """Close stdin after the first attach ends."""
    tty: bool | None = None
    """Give the container a terminal (needs stdin)."""

    @model_validator(mode="after")
    def _defaults(self) -> Container:
        if self.termination_message_path is None:
            self.termination_message_path = "/dev/termination-log"
        if self.termination_message_policy is None:
            self.termination_message_policy = "File"
        if self.image_pull_policy is None and self.image:
            self.image_pull_policy = "Always" if _image_tag(self.image) in ("", "latest") else "IfNotPresent"
        return self


class EphemeralContainer(Container):
    """A container added to a running pod for debugging (`kubectl debug`); it has a container's fields,
    though kube's validation forbids ports, probes and resources on it."""
    target_container_name: str | None = None
    """The container whose process namespace it joins."""


def _image_tag(image: str) -> str:
    """"" when the image has no tag and no digest; "latest" for :latest."""
    if "@" in image:
        return "digest"
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


class ConfigMapVolumeSource(K8sModel):
    """A volume holding the keys of a ConfigMap as files."""
    name: str | None = None
    """The ConfigMap's name."""
    items: list[KeyToPath] | None = None
    """Which keys to project and where; all keys, named after them, by default."""
    default_mode: Int32 | None = None
    """The permission bits of the files (0644 by default)."""
    optional: bool | None = None
    """When true, a missing ConfigMap or key is not an error."""

    @model_validator(mode="after")
    def _defaults(self) -> ConfigMapVolumeSource:
        if self.default_mode is None:
            self.default_mode = 0o644
        return self


class SecretVolumeSource(K8sModel):
    """A volume holding the keys of a Secret as files."""
    secret_name: str | None = None
    """The Secret's name."""
    items: list[KeyToPath] | None = None
    """Which keys to project and where; all keys by default."""
    default_mode: Int32 | None = None
    """The permission bits of the files (0644 by default)."""
    optional: bool | None = None
    """When true, a missing Secret or key is not an error."""

    @model_validator(mode="after")
    def _defaults(self) -> SecretVolumeSource:
        if self.default_mode is None:
            self.default_mode = 0o644
        return self


class EmptyDirVolumeSource(K8sModel):
    """A scratch directory that lives as long as the pod."""
    medium: str | None = None
    """Where it is kept: "" (the node's disk) or Memory (a tmpfs)."""
    size_limit: Quantity | None = None
    """The most space the volume may use."""


class PVCVolumeSource(K8sModel):
    """A volume backed by a PersistentVolumeClaim in the pod's namespace."""
    claim_name: str | None = None
    """The claim's name."""
    read_only: bool | None = None
    """Mount the volume read-only."""


_VOLUME_SOURCES = ("empty_dir", "host_path", "config_map", "secret", "persistent_volume_claim", "projected",
                   "downward_api", "nfs", "csi", "ephemeral", "image", "iscsi", "fc", "git_repo",
                   "aws_elastic_block_store", "azure_disk", "azure_file", "cephfs", "cinder", "flex_volume", "flocker",
                   "gce_persistent_disk", "glusterfs", "photon_persistent_disk", "portworx_volume", "quobyte", "rbd",
                   "scale_io", "storageos", "vsphere_volume")


class Volume(K8sModel):
    """A named volume of a pod, which containers mount; exactly one source is set."""
    name: str | None = None
    """The volume's name, which volumeMounts refer to (a DNS label)."""
    empty_dir: EmptyDirVolumeSource | None = None
    """A scratch directory that lives as long as the pod."""
    host_path: HostPathVolumeSource | None = None
    """A file or directory of the node."""
    config_map: ConfigMapVolumeSource | None = None
    """The keys of a ConfigMap as files."""
    secret: SecretVolumeSource | None = None
    """The keys of a Secret as files."""
    persistent_volume_claim: PVCVolumeSource | None = None
    """A PersistentVolumeClaim's volume."""
    projected: ProjectedVolumeSource | None = None
    """Several sources (secrets, config maps, downward API, tokens) in one directory."""
    downward_api: DownwardAPIVolumeSource | None = Field(None, alias="downwardAPI")
    """Fields of the pod as files."""
    nfs: NFSVolumeSource | None = None
    """An NFS export."""
    csi: CSIVolumeSource | None = None
    """A volume of a CSI driver."""
    ephemeral: EphemeralVolumeSource | None = None
    """A volume provisioned for the pod alone and deleted with it."""
    image: ImageVolumeSource | None = None
    """The content of a container image."""
    iscsi: ISCSIVolumeSource | None = None
    """An iSCSI disk."""
    fc: FCVolumeSource | None = None
    """A Fibre Channel disk."""
    git_repo: GitRepoVolumeSource | None = None
    """Deprecated: a git repository cloned into the volume."""
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
    """Lets the pod run on nodes whose taint it matches."""
    key: str | None = None
    """The taint key to match; empty with Exists matches every taint."""
    operator: str | None = None
    """Equal (the default) or Exists."""
    value: str | None = None
    """The taint value to match with Equal."""
    effect: str | None = None
    """The taint effect to match (NoSchedule, PreferNoSchedule, NoExecute); empty matches all."""
    toleration_seconds: Int64 | None = None
    """For NoExecute: how long the pod stays bound after the taint appears."""


class PreferredSchedulingTerm(K8sModel):
    """A weighted preference for some nodes."""
    weight: Int32 | None = None
    """The weight, 1 to 100."""
    preference: NodeSelectorTerm | None = None
    """The nodes preferred."""


class NodeAffinity(K8sModel):
    """Rules about the nodes a pod may run on."""
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    """Nodes must match one of these terms for the pod to be scheduled there."""
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None
    """Weighted terms: the scheduler prefers nodes matching more of them."""


class Affinity(K8sModel):
    """Scheduling constraints relative to nodes and other pods."""
    node_affinity: NodeAffinity | None = None
    """Rules about the nodes the pod may or prefers to run on."""
    pod_affinity: PodAffinity | None = None
    """Rules to place the pod near other pods."""
    pod_anti_affinity: PodAntiAffinity | None = None
    """Rules to keep the pod away from other pods."""


class PodSpec(K8sModel):
    """The desired state of a pod: its containers, volumes and scheduling."""
    volumes: list[Volume] | None = Field(None, json_schema_extra=merge_by("name", retain_keys=True))
    """Volumes the pod's containers can mount."""
    init_containers: list[Container] | None = Field(None, json_schema_extra=merge_by("name"))
    """Containers run one by one to completion before the app containers start."""
    containers: list[Container] | None = Field(None, json_schema_extra=merge_by("name"))
    """The pod's containers; at least one."""
    ephemeral_containers: list[EphemeralContainer] | None = Field(None, json_schema_extra=merge_by("name"))
    """Debugging containers added to a running pod (kubectl debug)."""
    restart_policy: str | None = None
    """Always (the default), OnFailure or Never: whether containers are restarted when they exit."""
    termination_grace_period_seconds: Int64 | None = None
    """Seconds the containers get to stop after SIGTERM before they are killed (30 by default)."""
    active_deadline_seconds: Int64 | None = None
    """Seconds the pod may run before it is failed."""
    dns_policy: str | None = None
    """ClusterFirst (the default), ClusterFirstWithHostNet, Default or None."""
    node_selector: dict[str, str] | None = None
    """Labels a node must have for the pod to run on it."""
    service_account_name: str | None = None
    """The ServiceAccount the pod runs as."""
    service_account: str | None = None
    """Deprecated alias of serviceAccountName."""
    automount_service_account_token: bool | None = None
    """Whether the service account's token is mounted into the containers."""
    node_name: str | None = None
    """The node the pod runs on; set by the scheduler, or by hand to skip scheduling."""
    host_network: bool | None = None
    """Use the node's network namespace."""
    host_pid: bool | None = Field(None, alias="hostPID")
    """Use the node's process namespace."""
    host_ipc: bool | None = Field(None, alias="hostIPC")
    """Use the node's IPC namespace."""
    share_process_namespace: bool | None = None
    """Let the containers see each other's processes."""
    security_context: PodSecurityContext | None = None
    """Security options for all containers of the pod."""
    image_pull_secrets: list[LocalObjectReference] | None = Field(None, json_schema_extra=merge_by("name"))
    """Secrets with registry credentials for pulling the images."""
    hostname: str | None = None
    """The pod's hostname; its name by default."""
    hostname_override: str | None = None  # HostnameOverride: beta, on in 1.35
    subdomain: str | None = None
    """With hostname, gives the pod the DNS name <hostname>.<subdomain>.<namespace>.svc."""
    affinity: Affinity | None = None
    """Node and pod affinity rules for scheduling."""
    scheduler_name: str | None = None
    """The scheduler that places the pod (default-scheduler by default)."""
    tolerations: list[Toleration] | None = None
    """Taints the pod tolerates."""
    host_aliases: list[HostAlias] | None = Field(None, json_schema_extra=merge_by("ip"))
    """Extra entries for the containers' /etc/hosts."""
    priority_class_name: str | None = None
    """The PriorityClass that gives the pod its priority."""
    priority: Int32 | None = None
    """The pod's priority, set from its priority class."""
    dns_config: PodDNSConfig | None = None
    """Extra DNS settings (nameservers, searches, options)."""
    readiness_gates: list[PodReadinessGate] | None = None
    """Extra conditions that must be True for the pod to be ready."""
    runtime_class_name: str | None = None
    """The RuntimeClass to run the pod with."""
    enable_service_links: bool | None = None
    """Whether the services of the namespace are put into the environment (true by default)."""
    preemption_policy: str | None = None
    """PreemptLowerPriority (the default) or Never."""
    overhead: ResourceList | None = None
    """Resources the pod's sandbox uses beyond its containers."""
    topology_spread_constraints: list[TopologySpreadConstraint] | None = Field(None, json_schema_extra=merge_by("topologyKey"))
    """How to spread matching pods across zones, nodes or other topology domains."""
    set_hostname_as_fqdn: bool | None = Field(None, alias="setHostnameAsFQDN")
    """Use the fully qualified domain name as the hostname."""
    os: PodOS | None = None
    """The operating system the pod needs (linux or windows)."""
    host_users: bool | None = None
    """Whether the pod uses the node's user namespace (true by default)."""
    scheduling_gates: list[PodSchedulingGate] | None = Field(None, json_schema_extra=merge_by("name"))
    """While any is present, the pod is not scheduled."""
    resource_claims: list[PodResourceClaim] | None = Field(None, json_schema_extra=merge_by("name", retain_keys=True))
    """Dynamically allocated resources the pod uses."""
    resources: ResourceRequirements | None = None
    """Resources for the pod as a whole, shared by its containers."""
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
        self.service_account_name, self.service_account = service_account_names(self.service_account_name,
                                                                               self.service_account)
        return self


def service_account_names(name: str | None, alias: str | None) -> tuple[str | None, str | None]:
    """kube's PodSpec conversion of the service account: (serviceAccountName, serviceAccount).  The
    name, else the deprecated alias, names the account, and the alias is written back from the
    name, always.  The model applies it to every pod read; ServiceAccount admission
    (apiserver/strategies.py) applies it after giving a pod that names none the default."""
    name = name or alias
    return name, name or alias


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
    """A condition of a pod."""
    type: str | None = None
    """PodScheduled, Initialized, ContainersReady, Ready, ..."""
    observed_generation: Int64 | None = None
    """The pod generation the condition was set for."""
    status: str | None = None
    """True, False or Unknown."""
    last_probe_time: str | None = None
    """When the condition was last checked."""
    last_transition_time: str | None = None
    """When the status last changed."""
    reason: str | None = None
    """A one-word CamelCase reason for the last change."""
    message: str | None = None
    """A readable message about the last change."""


class ContainerStatus(K8sModel):
    """The state of one container."""
    name: str | None = None
    """The container's name."""
    state: ContainerState | None = None
    """What the container is doing now: waiting, running or terminated."""
    last_state: ContainerState | None = None
    """How the container's previous run ended."""
    ready: bool | None = None
    """Whether the container passes its readiness probe."""
    restart_count: Int32 | None = None
    """How many times the container was restarted."""
    image: str | None = None
    """The image it runs."""
    image_id: str | None = Field(None, alias="imageID")
    """The image's ID."""
    container_id: str | None = Field(None, alias="containerID")
    """The container's ID, as <runtime>://<id>."""
    started: bool | None = None
    """Whether the container has started (and passed its startup probe)."""
    allocated_resources: ResourceList | None = None
    """The resources the node allocated to the container."""
    resources: ResourceRequirements | None = None
    """The resources the container has now."""
    volume_mounts: list[VolumeMountStatus] | None = None
    """The volumes mounted."""
    user: ContainerUser | None = None
    """The user identity the container runs as."""
    allocated_resources_status: list[ResourceStatus] | None = None
    """The health of the allocated resources."""
    stop_signal: str | None = None
    """The signal sent to stop the container."""


class PodIP(K8sModel):
    """An IP address of a pod or node."""
    ip: str | None = None
    """The address."""


class PodStatus(K8sModel):
    """The observed state of a pod."""
    observed_generation: Int64 | None = None
    """The pod generation the status was written for."""
    phase: str | None = None
    """Pending, Running, Succeeded, Failed or Unknown."""
    conditions: list[PodCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Conditions such as PodScheduled, Initialized, ContainersReady, Ready."""
    message: str | None = None
    """A readable message about why the pod is in this state."""
    reason: str | None = None
    """A short reason, such as Evicted."""
    nominated_node_name: str | None = None
    """A node the pod may run on once preemption frees room."""
    host_ip: str | None = Field(None, alias="hostIP")
    """The IP address of the node the pod runs on."""
    host_ips: list[PodIP] | None = Field(None, alias="hostIPs")
    """The IP addresses of the node."""
    pod_ip: str | None = Field(None, alias="podIP")
    """The pod's IP address."""
    pod_ips: list[PodIP] | None = Field(None, alias="podIPs", json_schema_extra=merge_by("ip"))
    """The pod's IP addresses, one per IP family."""
    start_time: str | None = None
    """When the node accepted the pod."""
    init_container_statuses: list[ContainerStatus] | None = None
    """The state of each init container."""
    container_statuses: list[ContainerStatus] | None = None
    """The state of each container."""
    qos_class: str | None = None
    """Guaranteed, Burstable or BestEffort, from the containers' resources."""
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    """The state of each ephemeral container."""
    resize: str | None = None
    """The state of a resize of the pod's resources."""
    resource_claim_statuses: list[PodResourceClaimStatus] | None = None
    """The state of the pod's resource claims."""
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    extended_resource_claim_status: PodExtendedResourceClaimStatus | None = None


class PodTemplateSpec(K8sModel):
    """The pods a controller creates: their metadata and spec."""
    metadata: ObjectMeta | None = None
    """Labels and annotations of the created pods (must match the selector)."""
    spec: PodSpec | None = None
    """The spec of the created pods."""


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
    """A group of containers that run together on one node, sharing a network address and volumes."""
    spec: PodSpec | None = None
    """The desired state of the pod."""
    status: PodStatus | None = None
    """The observed state of the pod, written by the node and the controllers."""

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
    if spec.service_account_name:
        from .meta import dns1123_subdomain_errors

        out += [FieldError.invalid(f"{path}.serviceAccountName", spec.service_account_name, e)
                for e in dns1123_subdomain_errors(spec.service_account_name)]
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
