"""events.k8s.io/v1 Event (the newer event shape; core/v1 Event lives in core.py)."""

from __future__ import annotations

from .errors import FieldError
from .meta import Int32, K8sObject
from .parts import EventsEventSeries, EventSource, ObjectReference


class Event(K8sObject):
    spec_fields = ()
    event_time: str | None = None
    series: EventsEventSeries | None = None
    reporting_controller: str | None = None
    reporting_instance: str | None = None
    action: str | None = None
    reason: str | None = None
    regarding: ObjectReference | None = None
    related: ObjectReference | None = None
    note: str | None = None
    type: str | None = None
    deprecated_source: EventSource | None = None
    deprecated_first_timestamp: str | None = None
    deprecated_last_timestamp: str | None = None
    deprecated_count: Int32 | None = None

    def validation_errors(self) -> list[FieldError]:
        if self.type not in (None, "Normal", "Warning"):
            return [FieldError.not_supported("type", self.type, ["Normal", "Warning"])]
        return []
