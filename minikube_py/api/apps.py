"""apps/v1 kinds: Deployment, ReplicaSet, StatefulSet, with Kubernetes' defaults and validation.

Decoded by the apiserver; read by the controllers (later) through the client.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from .core import PersistentVolumeClaim, pvc_spec_errors
from .errors import FieldError
from .meta import (
    Int32,
    Int64,
    IntOrString,
    K8sModel,
    K8sObject,
    LabelSelector,
    ObjectMeta,
    annotations_errors,
    label_selector_errors,
    labels_errors,
    merge_by,
    selector_matches,
)
from .parts import (
    PersistentVolumeClaimStatus,
    RollingUpdateStatefulSetStrategy,
    StatefulSetOrdinals,
    StatefulSetPersistentVolumeClaimRetentionPolicy,
)
from .pod import PodTemplateSpec, pod_template_errors

_PERCENT = re.compile(r"^(\d+)%$")


class SetCondition(K8sModel):
    """A ReplicaSet's or StatefulSet's condition (kube's have no lastUpdateTime)."""
    type: str | None = None
    """The kind of condition, such as Ready."""
    status: str | None = None
    """True, False or Unknown."""
    last_transition_time: str | None = None
    """When the status last changed."""
    reason: str | None = None
    """A one-word CamelCase reason for the last change."""
    message: str | None = None
    """A readable message about the last change."""


class WorkloadCondition(SetCondition):
    """A Deployment's condition."""
    last_update_time: str | None = None
    """When the condition was last updated."""


def _non_negative(value: int | None, path: str) -> list[FieldError]:
    if value is not None and value < 0:
        return [FieldError.invalid(path, value, "must be greater than or equal to 0")]
    return []


def _workload_errors(replicas: int | None, selector: LabelSelector | None, template: PodTemplateSpec | None,
                     min_ready: int | None, *, pod_spec: bool = True, noun: str = "deployment") -> list[FieldError]:
    """apps validation shared by the workloads.  `pod_spec=False` is kube's StatefulSet rule: its
    template's pod spec is not validated (its mounts may name claim templates); only labels and
    annotations are, and a bad pod spec surfaces as FailedCreate when the controller makes the pod."""
    out = _non_negative(replicas, "spec.replicas") + _non_negative(min_ready, "spec.minReadySeconds")
    if selector is None:
        out.append(FieldError.required("spec.selector"))
    else:
        out += label_selector_errors(selector, "spec.selector")
        if not (selector.match_labels or selector.match_expressions):
            # `noun`: kube's word for the kind here (a ReplicaSet's message says "deployment" too)
            out.append(FieldError.invalid("spec.selector", "empty", f"empty selector is invalid for {noun}"))
    if pod_spec:
        out += pod_template_errors(template, "spec.template")
    else:  # kube's ValidatePodTemplateSpecForStatefulSet: these paths, as kube names them
        # kube's StatefulSetSpec.Template is a struct, never nil: a missing one is an empty template, refused
        # below because the selector cannot match its (nil) labels
        template = template or PodTemplateSpec()
        tmeta = template.metadata or ObjectMeta()
        out += labels_errors(tmeta.labels, "spec.template.labels")
        out += annotations_errors(tmeta.annotations, "spec.template.annotations")
    if template is not None and selector is not None and (selector.match_labels or selector.match_expressions):
        labels = (template.metadata.labels if template.metadata else None) or {}
        if not selector_matches(selector, labels):
            shown = "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
            if template.metadata is None or template.metadata.labels is None:
                shown = "map[string]string(nil)"  # Go's %#v of a nil map
            out.append(FieldError.invalid("spec.template.metadata.labels", shown,
                                          "`selector` does not match template `labels`"))
    if template is not None and template.spec is not None and template.spec.restart_policy != "Always":
        out.append(FieldError.not_supported("spec.template.spec.restartPolicy", template.spec.restart_policy,
                                            ["Always"]))
    return out


def _selector_immutable(new: LabelSelector | None, old: LabelSelector | None) -> list[FieldError]:
    if (new.model_dump() if new else None) != (old.model_dump() if old else None):
        return [FieldError.invalid("spec.selector", new.dump() if new else None, "field is immutable")]
    return []


def _int_or_percent_errors(value: IntOrString | None, path: str) -> list[FieldError]:
    if value is None:
        return []
    if isinstance(value, int):
        return _non_negative(value, path)
    m = _PERCENT.match(value)
    if not m:
        return [FieldError.invalid(path, value, "a valid percent string must be a numeric string followed by an "
                                                "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                                                "'[0-9]+%')")]
    if int(m.group(1)) > 100:
        return [FieldError.invalid(path, value, "must not be greater than 100%")]
    return []


def _is_zero(value: IntOrString | None) -> bool:
    return value == 0 or value == "0%"


# --- Deployment ---------------------------------------------------------------------------------


class RollingUpdateDeployment(K8sModel):
    """How fast a rolling update proceeds."""
    max_unavailable: IntOrString | None = None
    """How many pods (a number or a percentage of replicas) may be unavailable during the update; 25% by
    default."""
    max_surge: IntOrString | None = None
    """How many pods (a number or a percentage) may be created above the desired replicas during the
    update; 25% by default."""


class DeploymentStrategy(K8sModel):
    """How a deployment replaces old pods with new ones."""
    type: str | None = None
    """RollingUpdate (the default: replace pods gradually) or Recreate (delete all old pods first)."""
    rolling_update: RollingUpdateDeployment | None = None
    """Parameters of a RollingUpdate."""


class DeploymentSpec(K8sModel):
    """The desired state of a deployment."""
    replicas: Int32 | None = None
    """The number of pods to run (1 by default)."""
    selector: LabelSelector | None = None
    """The labels of the pods this deployment manages; must match the template's labels and cannot change."""
    template: PodTemplateSpec | None = None
    """The pods to create."""
    strategy: DeploymentStrategy | None = Field(None, json_schema_extra={"x-kubernetes-patch-strategy": "retainKeys"})
    """How to replace old pods with new ones."""
    min_ready_seconds: Int32 | None = None
    """Seconds a new pod must be ready before it counts as available (0 by default)."""
    revision_history_limit: Int32 | None = None
    """How many old ReplicaSets to keep for rollback (10 by default)."""
    paused: bool | None = None
    """When true, changes to the template do not start a rollout."""
    progress_deadline_seconds: Int32 | None = None
    """Seconds a rollout may make no progress before it is reported as failed (600 by default)."""

    @model_validator(mode="after")
    def _defaults(self) -> DeploymentSpec:
        if self.replicas is None:
            self.replicas = 1
        if self.strategy is None:
            self.strategy = DeploymentStrategy()
        if self.strategy.type is None:
            self.strategy.type = "RollingUpdate"
        if self.strategy.type == "RollingUpdate":
            ru = self.strategy.rolling_update or RollingUpdateDeployment()
            if ru.max_unavailable is None:
                ru.max_unavailable = "25%"
            if ru.max_surge is None:
                ru.max_surge = "25%"
            self.strategy.rolling_update = ru
        if self.revision_history_limit is None:
            self.revision_history_limit = 10
        if self.progress_deadline_seconds is None:
            self.progress_deadline_seconds = 600
        return self


class DeploymentStatus(K8sModel):
    """The observed state of a deployment."""
    observed_generation: Int64 | None = None
    """The generation the controller last acted on."""
    replicas: Int32 | None = None
    """Pods of all its ReplicaSets."""
    updated_replicas: Int32 | None = None
    """Pods of the current template."""
    ready_replicas: Int32 | None = None
    """Pods that are ready."""
    available_replicas: Int32 | None = None
    """Pods ready for at least minReadySeconds."""
    unavailable_replicas: Int32 | None = None
    """Pods still needed for the deployment to be fully available."""
    terminating_replicas: Int32 | None = None
    """Pods of the deployment being terminated."""
    conditions: list[WorkloadCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Available, Progressing and ReplicaFailure conditions."""
    collision_count: Int32 | None = None
    """A counter used to name ReplicaSets uniquely when names collide."""


class Deployment(K8sObject):
    """Runs a number of identical pods and rolls out changes to them through ReplicaSets."""
    spec: DeploymentSpec | None = None
    """The desired state of the deployment."""
    status: DeploymentStatus | None = None
    """The observed state of the deployment."""

    def prepare_for_create(self) -> None:
        self.status = DeploymentStatus()

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or DeploymentSpec()
        out = _workload_errors(spec.replicas, spec.selector, spec.template, spec.min_ready_seconds)
        out += _non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
        strategy = spec.strategy or DeploymentStrategy()
        if strategy.type not in ("Recreate", "RollingUpdate"):
            out.append(FieldError.not_supported("spec.strategy.type", strategy.type, ["Recreate", "RollingUpdate"]))
        elif strategy.type == "Recreate" and strategy.rolling_update is not None:
            out.append(FieldError.forbidden("spec.strategy.rollingUpdate",
                                            "may not be specified when strategy `type` is 'Recreate'"))
        elif strategy.type == "RollingUpdate" and strategy.rolling_update is not None:
            ru = strategy.rolling_update
            out += _int_or_percent_errors(ru.max_unavailable, "spec.strategy.rollingUpdate.maxUnavailable")
            out += _int_or_percent_errors(ru.max_surge, "spec.strategy.rollingUpdate.maxSurge")
            if _is_zero(ru.max_unavailable) and _is_zero(ru.max_surge):
                out.append(FieldError.invalid("spec.strategy.rollingUpdate.maxUnavailable", ru.max_unavailable,
                                              "may not be 0 when `maxSurge` is 0"))
        if spec.progress_deadline_seconds is not None:
            out += _non_negative(spec.progress_deadline_seconds, "spec.progressDeadlineSeconds")
            if spec.progress_deadline_seconds <= (spec.min_ready_seconds or 0):
                out.append(FieldError.invalid("spec.progressDeadlineSeconds", spec.progress_deadline_seconds,
                                              "must be greater than minReadySeconds"))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, Deployment)
        return _selector_immutable((self.spec or DeploymentSpec()).selector, (old.spec or DeploymentSpec()).selector)


# --- ReplicaSet ---------------------------------------------------------------------------------


class ReplicaSetSpec(K8sModel):
    """The desired state of a replica set."""
    replicas: Int32 | None = None
    """The number of pods to run (1 by default)."""
    min_ready_seconds: Int32 | None = None
    """Seconds a new pod must be ready before it counts as available."""
    selector: LabelSelector | None = None
    """The labels of the pods it counts; must match the template's labels."""
    template: PodTemplateSpec | None = None
    """The pods to create when too few exist."""

    @model_validator(mode="after")
    def _defaults(self) -> ReplicaSetSpec:
        if self.replicas is None:
            self.replicas = 1
        return self


class ReplicaSetStatus(K8sModel):
    """The observed state of a replica set."""
    replicas: Int32 | None = None
    """The number of pods."""
    fully_labeled_replicas: Int32 | None = None
    """Pods whose labels match the template's."""
    ready_replicas: Int32 | None = None
    """Pods that are ready."""
    available_replicas: Int32 | None = None
    """Pods ready for at least minReadySeconds."""
    terminating_replicas: Int32 | None = None
    """Pods being terminated."""
    observed_generation: Int64 | None = None
    """The generation the controller last acted on."""
    conditions: list[SetCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Conditions such as ReplicaFailure."""


class ReplicaSet(K8sObject):
    """Keeps a number of identical pods running; usually managed by a Deployment."""
    spec: ReplicaSetSpec | None = None
    """The desired state of the replica set."""
    status: ReplicaSetStatus | None = None
    """The observed state of the replica set."""

    def prepare_for_create(self) -> None:
        self.status = ReplicaSetStatus(replicas=0)

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or ReplicaSetSpec()
        return _workload_errors(spec.replicas, spec.selector, spec.template, spec.min_ready_seconds)

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, ReplicaSet)
        return _selector_immutable((self.spec or ReplicaSetSpec()).selector, (old.spec or ReplicaSetSpec()).selector)


# --- StatefulSet --------------------------------------------------------------------------------


class StatefulSetUpdateStrategy(K8sModel):
    """How a stateful set updates its pods."""
    type: str | None = None
    """RollingUpdate (the default: one pod at a time, highest ordinal first) or OnDelete (only pods deleted
    by hand)."""
    rolling_update: RollingUpdateStatefulSetStrategy | None = None
    """Parameters of a RollingUpdate (partition, maxUnavailable)."""


class StatefulSetSpec(K8sModel):
    """The desired state of a stateful set."""
    replicas: Int32 | None = None
    """The number of pods to run (1 by default)."""
    selector: LabelSelector | None = None
    """The labels of the pods it manages; must match the template's labels."""
    template: PodTemplateSpec | None = None
    """The pods to create; each gets the name <set>-<ordinal>."""
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    """Claims each pod gets its own copy of (named <claim>-<pod>), which its containers can mount by the
    template's name."""
    service_name: str | None = None
    """The headless service that gives the pods their DNS names."""
    pod_management_policy: str | None = None
    """OrderedReady (the default: one pod at a time, in order) or Parallel."""
    update_strategy: StatefulSetUpdateStrategy | None = None
    """How to update pods when the template changes."""
    revision_history_limit: Int32 | None = None
    """How many old revisions to keep (10 by default)."""
    min_ready_seconds: Int32 | None = None
    """Seconds a new pod must be ready before it counts as available."""
    persistent_volume_claim_retention_policy: StatefulSetPersistentVolumeClaimRetentionPolicy | None = None
    """Whether the pods' claims are deleted when the set is deleted or scaled down."""
    ordinals: StatefulSetOrdinals | None = None
    """The number of the first pod (0 by default)."""

    @model_validator(mode="after")
    def _defaults(self) -> StatefulSetSpec:
        if self.replicas is None:
            self.replicas = 1
        if self.pod_management_policy is None:
            self.pod_management_policy = "OrderedReady"
        if self.update_strategy is None:
            self.update_strategy = StatefulSetUpdateStrategy()
        if self.update_strategy.type is None:
            self.update_strategy.type = "RollingUpdate"
        if self.update_strategy.type == "RollingUpdate" and self.update_strategy.rolling_update is None:
            self.update_strategy.rolling_update = RollingUpdateStatefulSetStrategy(partition=0)
        if self.revision_history_limit is None:
            self.revision_history_limit = 10
        if self.persistent_volume_claim_retention_policy is None:
            self.persistent_volume_claim_retention_policy = StatefulSetPersistentVolumeClaimRetentionPolicy(
                when_deleted="Retain", when_scaled="Retain")
        for claim in self.volume_claim_templates or []:  # kube defaults each template as a claim: Pending
            if claim.status is None:
                claim.status = PersistentVolumeClaimStatus()
            if claim.status.phase is None:
                claim.status.phase = "Pending"
        return self


class StatefulSetStatus(K8sModel):
    """The observed state of a stateful set."""
    observed_generation: Int64 | None = None
    """The generation the controller last acted on."""
    replicas: Int32 | None = None
    """The number of pods."""
    ready_replicas: Int32 | None = None
    """Pods that are ready."""
    current_replicas: Int32 | None = None
    """Pods of the currentRevision."""
    updated_replicas: Int32 | None = None
    """Pods of the updateRevision."""
    current_revision: str | None = None
    """The revision of the pods before the update in progress."""
    update_revision: str | None = None
    """The revision the pods are being updated to."""
    collision_count: Int32 | None = None
    """A counter used to name revisions uniquely."""
    conditions: list[SetCondition] | None = Field(None, json_schema_extra=merge_by("type"))
    """Conditions of the set."""
    available_replicas: Int32 | None = None
    """Pods ready for at least minReadySeconds."""


class StatefulSet(K8sObject):
    """Runs pods with stable names, network identities and storage, created and updated in order."""
    spec: StatefulSetSpec | None = None
    """The desired state of the stateful set."""
    status: StatefulSetStatus | None = None
    """The observed state of the stateful set."""

    def prepare_for_create(self) -> None:
        self.status = StatefulSetStatus(replicas=0, available_replicas=0)

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or StatefulSetSpec()
        out = _workload_errors(spec.replicas, spec.selector, spec.template, spec.min_ready_seconds, pod_spec=False,
                               noun="statefulset")
        if spec.template is not None and spec.template.spec is not None \
                and spec.template.spec.active_deadline_seconds is not None:
            out.append(FieldError.forbidden("spec.template.spec.activeDeadlineSeconds",
                                            "activeDeadlineSeconds in StatefulSet is not Supported"))
        if spec.pod_management_policy not in ("OrderedReady", "Parallel"):
            out.append(FieldError.not_supported("spec.podManagementPolicy", spec.pod_management_policy,
                                                ["OrderedReady", "Parallel"]))
        kind = (spec.update_strategy or StatefulSetUpdateStrategy()).type
        if kind not in ("OnDelete", "RollingUpdate"):
            out.append(FieldError.not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
        for i, pvc in enumerate(spec.volume_claim_templates or []):
            if not pvc.metadata.name:
                out.append(FieldError.required(f"spec.volumeClaimTemplates[{i}].metadata.name"))
            out += pvc_spec_errors(pvc.spec, f"spec.volumeClaimTemplates[{i}].spec")
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, StatefulSet)
        a, b = (self.spec or StatefulSetSpec()).model_copy(), (old.spec or StatefulSetSpec())
        for allowed in ("replicas", "template", "update_strategy", "persistent_volume_claim_retention_policy",
                        "min_ready_seconds", "ordinals", "revision_history_limit"):
            setattr(a, allowed, getattr(b, allowed))
        if a.model_dump() != b.model_dump():
            return [FieldError.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', "
                                                 "'ordinals', 'template', 'updateStrategy', "
                                                 "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                                                 "'minReadySeconds' are forbidden")]
        return []
