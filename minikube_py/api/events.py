"""events.k8s.io/v1 Event (the newer event shape; core/v1 Event lives in core.py)."""

from __future__ import annotations

from .core import ObjectReference
from .errors import FieldError
from .meta import K8sObject
from .pod import Free


class Event(K8sObject):
    """A report of something that happened to an object (the events.k8s.io view of events)."""
    spec_fields = ()
    event_time: str | None = None
    """When the event first happened, in microseconds."""
    series: Free | None = None
    """Data about a series of repeated events."""
    reporting_controller: str | None = None
    """The controller that reported the event."""
    reporting_instance: str | None = None
    """The instance of that controller."""
    action: str | None = None
    """What was done (or failed)."""
    reason: str | None = None
    """A short CamelCase reason."""
    regarding: ObjectReference | None = None
    """The object the event is about."""
    related: ObjectReference | None = None
    """A second object involved."""
    note: str | None = None
    """A readable description."""
    type: str | None = None
    """Normal or Warning."""
    deprecated_source: Free | None = None
    """The reporting component, in the core/v1 shape."""
    deprecated_first_timestamp: str | None = None
    """The core/v1 firstTimestamp."""
    deprecated_last_timestamp: str | None = None
    """The core/v1 lastTimestamp."""
    deprecated_count: int | None = None
    """The core/v1 count."""

    def validation_errors(self) -> list[FieldError]:
        if self.type not in (None, "Normal", "Warning"):
            return [FieldError.not_supported("type", self.type, ["Normal", "Warning"])]
        return []
