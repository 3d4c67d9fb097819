"""Typed parts of the Kubernetes 1.35 API that the hand-written models hold (generated; do not edit).

Written by tests/tools/gen_api_parts.py from tests/data/k8s-1.35-fields.txt: one model per struct,
each field typed as 1.35 types it, so unknown fields and out-of-range integers inside them are
refused as everywhere else.  The hand-written kinds (pod.py, core.py, apps.py, ...) import them.
"""

from __future__ import annotations

from pydantic import Field

from .meta import Int32, Int64, IntOrString, K8sModel, LabelSelector, ObjectMeta, Quantity, merge_by
from .structs import (
    ExecAction,
    HTTPGetAction,
    KeyToPath,
    LocalObjectReference,
    NodeSelector,
    ObjectFieldSelector,
    ResourceFieldSelector,
    TCPSocketAction,
)


class RollingUpdateStatefulSetStrategy(K8sModel):
    max_unavailable: IntOrString | None = None
    partition: Int32 | None = None


class StatefulSetOrdinals(K8sModel):
    start: Int32 | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(K8sModel):
    when_deleted: str | None = None
    when_scaled: str | None = None


class AWSElasticBlockStoreVolumeSource(K8sModel):
    fs_type: str | None = None
    partition: Int32 | None = None
    read_only: bool | None = None
    volume_id: str | None = Field(None, alias="volumeID")


class AttachedVolume(K8sModel):
    device_path: str | None = None
    name: str | None = None


class AzureDiskVolumeSource(K8sModel):
    caching_mode: str | None = None
    disk_name: str | None = None
    disk_uri: str | None = Field(None, alias="diskURI")
    fs_type: str | None = None
    kind: str | None = None
    read_only: bool | None = None


class AzureFilePersistentVolumeSource(K8sModel):
    read_only: bool | None = None
    secret_name: str | None = None
    secret_namespace: str | None = None
    share_name: str | None = None


class AzureFileVolumeSource(K8sModel):
    read_only: bool | None = None
    secret_name: str | None = None
    share_name: str | None = None


class SecretReference(K8sModel):
    name: str | None = None
    namespace: str | None = None


class CSIPersistentVolumeSource(K8sModel):
    controller_expand_secret_ref: SecretReference | None = None
    controller_publish_secret_ref: SecretReference | None = None
    driver: str | None = None
    fs_type: str | None = None
    node_expand_secret_ref: SecretReference | None = None
    node_publish_secret_ref: SecretReference | None = None
    node_stage_secret_ref: SecretReference | None = None
    read_only: bool | None = None
    volume_attributes: dict[str, str] | None = None
    volume_handle: str | None = None


class CSIVolumeSource(K8sModel):
    driver: str | None = None
    fs_type: str | None = None
    node_publish_secret_ref: LocalObjectReference | None = None
    read_only: bool | None = None
    volume_attributes: dict[str, str] | None = None


class CephFSPersistentVolumeSource(K8sModel):
    monitors: list[str] | None = None
    path: str | None = None
    read_only: bool | None = None
    secret_file: str | None = None
    secret_ref: SecretReference | None = None
    user: str | None = None


class CephFSVolumeSource(K8sModel):
    monitors: list[str] | None = None
    path: str | None = None
    read_only: bool | None = None
    secret_file: str | None = None
    secret_ref: LocalObjectReference | None = None
    user: str | None = None


class CinderPersistentVolumeSource(K8sModel):
    fs_type: str | None = None
    read_only: bool | None = None
    secret_ref: SecretReference | None = None
    volume_id: str | None = Field(None, alias="volumeID")


class CinderVolumeSource(K8sModel):
    fs_type: str | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None
    volume_id: str | None = Field(None, alias="volumeID")


class ContainerImage(K8sModel):
    names: list[str] | None = None
    size_bytes: Int64 | None = None


class ContainerResizePolicy(K8sModel):
    resource_name: str | None = None
    restart_policy: str | None = None


class ContainerRestartRuleOnExitCodes(K8sModel):
    operator: str | None = None
    values: list[Int32] | None = None


class ContainerRestartRule(K8sModel):
    action: str | None = None
    exit_codes: ContainerRestartRuleOnExitCodes | None = None


class ContainerStateRunning(K8sModel):
    started_at: str | None = None


class ContainerStateTerminated(K8sModel):
    container_id: str | None = Field(None, alias="containerID")
    exit_code: Int32 | None = None
    finished_at: str | None = None
    message: str | None = None
    reason: str | None = None
    signal: Int32 | None = None
    started_at: str | None = None


class ContainerStateWaiting(K8sModel):
    message: str | None = None
    reason: str | None = None


class ContainerState(K8sModel):
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None
    waiting: ContainerStateWaiting | None = None


class LinuxContainerUser(K8sModel):
    gid: Int64 | None = None
    supplemental_groups: list[Int64] | None = None
    uid: Int64 | None = None


class ContainerUser(K8sModel):
    linux: LinuxContainerUser | None = None


class DownwardAPIVolumeFile(K8sModel):
    field_ref: ObjectFieldSelector | None = None
    mode: Int32 | None = None
    path: str | None = None
    resource_field_ref: ResourceFieldSelector | None = None


class DownwardAPIVolumeSource(K8sModel):
    default_mode: Int32 | None = None
    items: list[DownwardAPIVolumeFile] | None = None


class TypedLocalObjectReference(K8sModel):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class TypedObjectReference(K8sModel):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class VolumeResourceRequirements(K8sModel):
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class PersistentVolumeClaimSpec(K8sModel):
    access_modes: list[str] | None = None
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    resources: VolumeResourceRequirements | None = None
    selector: LabelSelector | None = None
    storage_class_name: str | None = None
    volume_attributes_class_name: str | None = None
    volume_mode: str | None = None
    volume_name: str | None = None


class PersistentVolumeClaimTemplate(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PersistentVolumeClaimSpec | None = None


class EphemeralVolumeSource(K8sModel):
    volume_claim_template: PersistentVolumeClaimTemplate | None = None


class EventSeries(K8sModel):
    count: Int32 | None = None
    last_observed_time: str | None = None


class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class FCVolumeSource(K8sModel):
    fs_type: str | None = None
    lun: Int32 | None = None
    read_only: bool | None = None
    target_ww_ns: list[str] | None = Field(None, alias="targetWWNs")
    wwids: list[str] | None = None


class FileKeySelector(K8sModel):
    key: str | None = None
    optional: bool | None = None
    path: str | None = None
    volume_name: str | None = None


class FlexPersistentVolumeSource(K8sModel):
    driver: str | None = None
    fs_type: str | None = None
    options: dict[str, str] | None = None
    read_only: bool | None = None
    secret_ref: SecretReference | None = None


class FlexVolumeSource(K8sModel):
    driver: str | None = None
    fs_type: str | None = None
    options: dict[str, str] | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None


class FlockerVolumeSource(K8sModel):
    dataset_name: str | None = None
    dataset_uuid: str | None = Field(None, alias="datasetUUID")


class GCEPersistentDiskVolumeSource(K8sModel):
    fs_type: str | None = None
    partition: Int32 | None = None
    pd_name: str | None = None
    read_only: bool | None = None


class GitRepoVolumeSource(K8sModel):
    directory: str | None = None
    repository: str | None = None
    revision: str | None = None


class GlusterfsPersistentVolumeSource(K8sModel):
    endpoints: str | None = None
    endpoints_namespace: str | None = None
    path: str | None = None
    read_only: bool | None = None


class GlusterfsVolumeSource(K8sModel):
    endpoints: str | None = None
    path: str | None = None
    read_only: bool | None = None


class HostAlias(K8sModel):
    hostnames: list[str] | None = None
    ip: str | None = None


class ISCSIPersistentVolumeSource(K8sModel):
    chap_auth_discovery: bool | None = None
    chap_auth_session: bool | None = None
    fs_type: str | None = None
    initiator_name: str | None = None
    iqn: str | None = None
    iscsi_interface: str | None = None
    lun: Int32 | None = None
    portals: list[str] | None = None
    read_only: bool | None = None
    secret_ref: SecretReference | None = None
    target_portal: str | None = None


class ISCSIVolumeSource(K8sModel):
    chap_auth_discovery: bool | None = None
    chap_auth_session: bool | None = None
    fs_type: str | None = None
    initiator_name: str | None = None
    iqn: str | None = None
    iscsi_interface: str | None = None
    lun: Int32 | None = None
    portals: list[str] | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None
    target_portal: str | None = None


class ImageVolumeSource(K8sModel):
    pull_policy: str | None = None
    reference: str | None = None


class SleepAction(K8sModel):
    seconds: Int64 | None = None


class LifecycleHandler(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    sleep: SleepAction | None = None
    tcp_socket: TCPSocketAction | None = None


class Lifecycle(K8sModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class LocalVolumeSource(K8sModel):
    fs_type: str | None = None
    path: str | None = None


class NFSVolumeSource(K8sModel):
    path: str | None = None
    read_only: bool | None = None
    server: str | None = None


class NamespaceCondition(K8sModel):
    last_transition_time: str | None = None
    message: str | None = None
    reason: str | None = None
    status: str | None = None
    type: str | None = None


class ConfigMapNodeConfigSource(K8sModel):
    kubelet_config_key: str | None = None
    name: str | None = None
    namespace: str | None = None
    resource_version: str | None = None
    uid: str | None = None


class NodeConfigSource(K8sModel):
    config_map: ConfigMapNodeConfigSource | None = None


class NodeConfigStatus(K8sModel):
    active: NodeConfigSource | None = None
    assigned: NodeConfigSource | None = None
    error: str | None = None
    last_known_good: NodeConfigSource | None = None


class DaemonEndpoint(K8sModel):
    port: Int32 | None = Field(None, alias="Port")


class NodeDaemonEndpoints(K8sModel):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeFeatures(K8sModel):
    supplemental_groups_policy: bool | None = None


class NodeRuntimeHandlerFeatures(K8sModel):
    recursive_read_only_mounts: bool | None = None
    user_namespaces: bool | None = None


class NodeRuntimeHandler(K8sModel):
    features: NodeRuntimeHandlerFeatures | None = None
    name: str | None = None


class NodeSwapStatus(K8sModel):
    capacity: Int64 | None = None


class NodeSystemInfo(K8sModel):
    architecture: str | None = None
    boot_id: str | None = Field(None, alias="bootID")
    container_runtime_version: str | None = None
    kernel_version: str | None = None
    kube_proxy_version: str | None = None
    kubelet_version: str | None = None
    machine_id: str | None = Field(None, alias="machineID")
    operating_system: str | None = None
    os_image: str | None = None
    swap: NodeSwapStatus | None = None
    system_uuid: str | None = Field(None, alias="systemUUID")


class ObjectReference(K8sModel):
    api_version: str | None = None
    field_path: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    resource_version: str | None = None
    uid: str | None = None


class PersistentVolumeClaimCondition(K8sModel):
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    message: str | None = None
    reason: str | None = None
    status: str | None = None
    type: str | None = None


class ModifyVolumeStatus(K8sModel):
    status: str | None = None
    target_volume_attributes_class_name: str | None = None


class PersistentVolumeClaimStatus(K8sModel):
    access_modes: list[str] | None = None
    allocated_resource_statuses: dict[str, str] | None = None
    allocated_resources: dict[str, Quantity] | None = None
    capacity: dict[str, Quantity] | None = None
    conditions: list[PersistentVolumeClaimCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: ModifyVolumeStatus | None = None
    phase: str | None = None


class PersistentVolumeStatus(K8sModel):
    last_phase_transition_time: str | None = None
    message: str | None = None
    phase: str | None = None
    reason: str | None = None


class PhotonPersistentDiskVolumeSource(K8sModel):
    fs_type: str | None = None
    pd_id: str | None = Field(None, alias="pdID")


class PodAffinityTerm(K8sModel):
    label_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    mismatch_label_keys: list[str] | None = None
    namespace_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    topology_key: str | None = None


class WeightedPodAffinityTerm(K8sModel):
    pod_affinity_term: PodAffinityTerm | None = None
    weight: Int32 | None = None


class PodAffinity(K8sModel):
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None


class PodAntiAffinity(K8sModel):
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None


class PodDNSConfigOption(K8sModel):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(K8sModel):
    nameservers: list[str] | None = None
    options: list[PodDNSConfigOption] | None = None
    searches: list[str] | None = None


class ContainerExtendedResourceRequest(K8sModel):
    container_name: str | None = None
    request_name: str | None = None
    resource_name: str | None = None


class PodExtendedResourceClaimStatus(K8sModel):
    request_mappings: list[ContainerExtendedResourceRequest] | None = None
    resource_claim_name: str | None = None


class PodOS(K8sModel):
    name: str | None = None


class PodReadinessGate(K8sModel):
    condition_type: str | None = None


class PodResourceClaim(K8sModel):
    name: str | None = None
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


class PodResourceClaimStatus(K8sModel):
    name: str | None = None
    resource_claim_name: str | None = None


class PodSchedulingGate(K8sModel):
    name: str | None = None


class AppArmorProfile(K8sModel):
    localhost_profile: str | None = None
    type: str | None = None


class SELinuxOptions(K8sModel):
    level: str | None = None
    role: str | None = None
    type: str | None = None
    user: str | None = None


class SeccompProfile(K8sModel):
    localhost_profile: str | None = None
    type: str | None = None


class Sysctl(K8sModel):
    name: str | None = None
    value: str | None = None


class WindowsSecurityContextOptions(K8sModel):
    gmsa_credential_spec: str | None = None
    gmsa_credential_spec_name: str | None = None
    host_process: bool | None = None
    run_as_user_name: str | None = None


class PodSecurityContext(K8sModel):
    app_armor_profile: AppArmorProfile | None = None
    fs_group: Int64 | None = None
    fs_group_change_policy: str | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: bool | None = None
    run_as_user: Int64 | None = None
    se_linux_change_policy: str | None = None
    se_linux_options: SELinuxOptions | None = None
    seccomp_profile: SeccompProfile | None = None
    supplemental_groups: list[Int64] | None = None
    supplemental_groups_policy: str | None = None
    sysctls: list[Sysctl] | None = None
    windows_options: WindowsSecurityContextOptions | None = None


class PortworxVolumeSource(K8sModel):
    fs_type: str | None = None
    read_only: bool | None = None
    volume_id: str | None = Field(None, alias="volumeID")


class ClusterTrustBundleProjection(K8sModel):
    label_selector: LabelSelector | None = None
    name: str | None = None
    optional: bool | None = None
    path: str | None = None
    signer_name: str | None = None


class ConfigMapProjection(K8sModel):
    items: list[KeyToPath] | None = None
    name: str | None = None
    optional: bool | None = None


class DownwardAPIProjection(K8sModel):
    items: list[DownwardAPIVolumeFile] | None = None


class PodCertificateProjection(K8sModel):
    certificate_chain_path: str | None = None
    credential_bundle_path: str | None = None
    key_path: str | None = None
    key_type: str | None = None
    max_expiration_seconds: Int32 | None = None
    signer_name: str | None = None
    user_annotations: dict[str, str] | None = None


class SecretProjection(K8sModel):
    items: list[KeyToPath] | None = None
    name: str | None = None
    optional: bool | None = None


class ServiceAccountTokenProjection(K8sModel):
    audience: str | None = None
    expiration_seconds: Int64 | None = None
    path: str | None = None


class VolumeProjection(K8sModel):
    cluster_trust_bundle: ClusterTrustBundleProjection | None = None
    config_map: ConfigMapProjection | None = None
    downward_api: DownwardAPIProjection | None = Field(None, alias="downwardAPI")
    pod_certificate: PodCertificateProjection | None = None
    secret: SecretProjection | None = None
    service_account_token: ServiceAccountTokenProjection | None = None


class ProjectedVolumeSource(K8sModel):
    default_mode: Int32 | None = None
    sources: list[VolumeProjection] | None = None


class QuobyteVolumeSource(K8sModel):
    group: str | None = None
    read_only: bool | None = None
    registry: str | None = None
    tenant: str | None = None
    user: str | None = None
    volume: str | None = None


class RBDPersistentVolumeSource(K8sModel):
    fs_type: str | None = None
    image: str | None = None
    keyring: str | None = None
    monitors: list[str] | None = None
    pool: str | None = None
    read_only: bool | None = None
    secret_ref: SecretReference | None = None
    user: str | None = None


class RBDVolumeSource(K8sModel):
    fs_type: str | None = None
    image: str | None = None
    keyring: str | None = None
    monitors: list[str] | None = None
    pool: str | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None
    user: str | None = None


class ResourceClaim(K8sModel):
    name: str | None = None
    request: str | None = None


class ResourceHealth(K8sModel):
    health: str | None = None
    resource_id: str | None = Field(None, alias="resourceID")


class ResourceStatus(K8sModel):
    name: str | None = None
    resources: list[ResourceHealth] | None = None


class ScaleIOPersistentVolumeSource(K8sModel):
    fs_type: str | None = None
    gateway: str | None = None
    protection_domain: str | None = None
    read_only: bool | None = None
    secret_ref: SecretReference | None = None
    ssl_enabled: bool | None = None
    storage_mode: str | None = None
    storage_pool: str | None = None
    system: str | None = None
    volume_name: str | None = None


class ScaleIOVolumeSource(K8sModel):
    fs_type: str | None = None
    gateway: str | None = None
    protection_domain: str | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None
    ssl_enabled: bool | None = None
    storage_mode: str | None = None
    storage_pool: str | None = None
    system: str | None = None
    volume_name: str | None = None


class Capabilities(K8sModel):
    add: list[str] | None = None
    drop: list[str] | None = None


class SecurityContext(K8sModel):
    allow_privilege_escalation: bool | None = None
    app_armor_profile: AppArmorProfile | None = None
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    proc_mount: str | None = None
    read_only_root_filesystem: bool | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: bool | None = None
    run_as_user: Int64 | None = None
    se_linux_options: SELinuxOptions | None = None
    seccomp_profile: SeccompProfile | None = None
    windows_options: WindowsSecurityContextOptions | None = None


class Condition(K8sModel):
    last_transition_time: str | None = None
    message: str | None = None
    observed_generation: Int64 | None = None
    reason: str | None = None
    status: str | None = None
    type: str | None = None


class PortStatus(K8sModel):
    error: str | None = None
    port: Int32 | None = None
    protocol: str | None = None


class LoadBalancerIngress(K8sModel):
    hostname: str | None = None
    ip: str | None = None
    ip_mode: str | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(K8sModel):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(K8sModel):
    conditions: list[Condition] | None = Field(None, json_schema_extra=merge_by("type"))
    load_balancer: LoadBalancerStatus | None = None


class ClientIPConfig(K8sModel):
    timeout_seconds: Int32 | None = None


class SessionAffinityConfig(K8sModel):
    client_ip: ClientIPConfig | None = Field(None, alias="clientIP")


class StorageOSPersistentVolumeSource(K8sModel):
    fs_type: str | None = None
    read_only: bool | None = None
    secret_ref: ObjectReference | None = None
    volume_name: str | None = None
    volume_namespace: str | None = None


class StorageOSVolumeSource(K8sModel):
    fs_type: str | None = None
    read_only: bool | None = None
    secret_ref: LocalObjectReference | None = None
    volume_name: str | None = None
    volume_namespace: str | None = None


class TopologySelectorLabelRequirement(K8sModel):
    key: str | None = None
    values: list[str] | None = None


class TopologySelectorTerm(K8sModel):
    match_label_expressions: list[TopologySelectorLabelRequirement] | None = None


class TopologySpreadConstraint(K8sModel):
    label_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    max_skew: Int32 | None = None
    min_domains: Int32 | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    topology_key: str | None = None
    when_unsatisfiable: str | None = None


class VolumeDevice(K8sModel):
    device_path: str | None = None
    name: str | None = None


class VolumeMountStatus(K8sModel):
    mount_path: str | None = None
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None


class VolumeNodeAffinity(K8sModel):
    required: NodeSelector | None = None


class VsphereVirtualDiskVolumeSource(K8sModel):
    fs_type: str | None = None
    storage_policy_id: str | None = Field(None, alias="storagePolicyID")
    storage_policy_name: str | None = None
    volume_path: str | None = None


class WorkloadReference(K8sModel):
    name: str | None = None
    pod_group: str | None = None
    pod_group_replica_key: str | None = None


class EventsEventSeries(K8sModel):
    count: Int32 | None = None
    last_observed_time: str | None = None


class IngressClassParametersReference(K8sModel):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


class IngressPortStatus(K8sModel):
    error: str | None = None
    port: Int32 | None = None
    protocol: str | None = None


class IngressLoadBalancerIngress(K8sModel):
    hostname: str | None = None
    ip: str | None = None
    ports: list[IngressPortStatus] | None = None


class IngressLoadBalancerStatus(K8sModel):
    ingress: list[IngressLoadBalancerIngress] | None = None


class IngressStatus(K8sModel):
    load_balancer: IngressLoadBalancerStatus | None = None


# Kubernetes' name of each struct above that is not core/v1's of the same name
# (apiserver/openapi.py names the OpenAPI definitions by it)
KUBE_NAMES: dict[str, str] = {
    "Condition": "meta.v1.Condition",
    "EventsEventSeries": "events.v1.EventSeries",
    "IngressClassParametersReference": "networking.v1.IngressClassParametersReference",
    "IngressLoadBalancerIngress": "networking.v1.IngressLoadBalancerIngress",
    "IngressLoadBalancerStatus": "networking.v1.IngressLoadBalancerStatus",
    "IngressPortStatus": "networking.v1.IngressPortStatus",
    "IngressStatus": "networking.v1.IngressStatus",
    "RollingUpdateStatefulSetStrategy": "apps.v1.RollingUpdateStatefulSetStrategy",
    "StatefulSetOrdinals": "apps.v1.StatefulSetOrdinals",
    "StatefulSetPersistentVolumeClaimRetentionPolicy": "apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy",
}
