"""storage.k8s.io/v1 kinds: StorageClass (decoded by the apiserver; the volume provisioner reads it)."""

from __future__ import annotations

from pydantic import model_validator

from .errors import FieldError
from .meta import K8sObject
from .parts import TopologySelectorTerm

RECLAIM = ["Delete", "Retain"]
BINDING = ["Immediate", "WaitForFirstConsumer"]


class StorageClass(K8sObject):
    """A class of storage: how volumes are provisioned for the claims that name it."""
    spec_fields = ()
    provisioner: str | None = None
    """The volume plugin or CSI driver that provisions the volumes."""
    parameters: dict[str, str] | None = None
    """Settings for the provisioner."""
    reclaim_policy: str | None = None
    """Delete (the default) or Retain: what happens to a volume when its claim goes."""
    volume_binding_mode: str | None = None
    """Immediate (the default) or WaitForFirstConsumer (provision once a pod uses the claim)."""
    allow_volume_expansion: bool | None = None
    """Whether claims may grow their volumes."""
    mount_options: list[str] | None = None
    """Mount options of the provisioned volumes."""
    allowed_topologies: list[TopologySelectorTerm] | None = None
    """Where volumes may be provisioned."""

    @model_validator(mode="after")
    def _defaults(self) -> StorageClass:
        if self.reclaim_policy is None:
            self.reclaim_policy = "Delete"
        if self.volume_binding_mode is None:
            self.volume_binding_mode = "Immediate"
        return self

    def validation_errors(self) -> list[FieldError]:
        out: list[FieldError] = []
        if not self.provisioner:
            out.append(FieldError.required("provisioner"))
        if self.reclaim_policy not in RECLAIM:
            out.append(FieldError.not_supported("reclaimPolicy", self.reclaim_policy, RECLAIM))
        if self.volume_binding_mode not in BINDING:
            out.append(FieldError.not_supported("volumeBindingMode", self.volume_binding_mode, BINDING))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        assert isinstance(old, StorageClass)
        out: list[FieldError] = []
        for attr, wire in (("provisioner", "provisioner"), ("parameters", "parameters"),
                           ("reclaim_policy", "reclaimPolicy"), ("volume_binding_mode", "volumeBindingMode")):
            if getattr(self, attr) != getattr(old, attr):
                out.append(FieldError.forbidden(wire, "updates to " + wire + " are forbidden."))
        return out
