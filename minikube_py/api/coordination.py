"""coordination.k8s.io/v1 kinds: Lease (node heartbeats, leader election)."""

from __future__ import annotations

from .errors import FieldError
from .meta import Int32, K8sModel, K8sObject


class LeaseSpec(K8sModel):
    """Who holds a lease, and until when."""
    holder_identity: str | None = None
    """The current holder."""
    lease_duration_seconds: Int32 | None = None
    """How long candidates wait after the last renewal before taking the lease."""
    acquire_time: str | None = None
    """When the current holder acquired the lease."""
    renew_time: str | None = None
    """When the holder last renewed the lease."""
    lease_transitions: Int32 | None = None
    """How many times the holder changed."""
    strategy: str | None = None
    """How the next holder is chosen."""
    preferred_holder: str | None = None
    """The holder the strategy prefers next."""


class Lease(K8sObject):
    """A lock with an expiry: node heartbeats and leader election use leases."""
    spec: LeaseSpec | None = None
    """The lease's holder and timing."""

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
