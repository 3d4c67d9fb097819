"""coordination.k8s.io/v1 kinds: Lease (node heartbeats, leader election)."""

from __future__ import annotations

from .errors import FieldError
from .meta import Int32, K8sModel, K8sObject


class LeaseSpec(K8sModel):
    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: Int32 | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(K8sObject):
    spec: LeaseSpec | None = None

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or LeaseSpec()
        out: list[FieldError] = []
        if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
            out.append(FieldError.invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds,
                                          "must be greater than 0"))
        if spec.lease_transitions is not None and spec.lease_transitions < 0:
            out.append(FieldError.invalid("spec.leaseTransitions", spec.lease_transitions,
                                          "must be greater than or equal to 0"))
        return out
