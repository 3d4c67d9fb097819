"""events.k8s.io/v1 Event (the newer event shape; core/v1 Event lives in core.py)."""

from __future__ import annotations

from .core import ObjectReference
from .errors import FieldError
from .meta import K8sObject
from .pod import Free


class Event(K8sObject):
    spec_fields = ()
    event_time: str | None = None
    series: Free | None = None
    reporting_controller: str | None = None
    reporting_instance: str | None = None
    action: str | None = None
    reason: str | None = None
    regarding: ObjectReference | None = None
    related: ObjectReference | None = None
    note: str | None = None
    type: str | None = None
    deprecated_source: Free | None = None
    deprecated_first_timestamp: str | None = None
    deprecated_last_timestamp: str | None = None
    deprecated_count: int | None = None

    def validation_errors(self) -> list[FieldError]:
        if self.type not in (None, "Normal", "Warning"):
            return [FieldError.not_supported("type", self.type, ["Normal", "Warning"])]
        return []
