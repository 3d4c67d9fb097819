"""events.k8s.io/v1 Event: the newer shape of the same objects as core/v1 Events (core.py).

kube-apiserver keeps one store of events and serves both groups from it; so does this one: the
kinds table entry of events.k8s.io/v1 Event says it is stored as core/v1 Event (`StoredAs`) with
the two converters below, which map the fields as kube's conversion does (note <-> message,
regarding <-> involvedObject, reportingController <-> reportingComponent, deprecatedSource <->
source, deprecatedFirstTimestamp/LastTimestamp/Count <-> firstTimestamp/lastTimestamp/count; the
rest keeps its name).  Validation is kube's for writes through events.k8s.io/v1, stricter than
core/v1's.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .meta import Int32, K8sModel, K8sObject, qualified_name_errors
from .parts import EventsEventSeries, EventSource, ObjectReference

Obj = dict[str, Any]
EVENT_TYPES = ["Normal", "Warning"]
# kube's limits on the events.k8s.io fields
REPORTING_INSTANCE_LIMIT, ACTION_LIMIT, REASON_LIMIT, NOTE_LIMIT = 128, 128, 128, 1024

# (events.k8s.io/v1 field, core/v1 field)
_RENAMED = (("note", "message"), ("regarding", "involvedObject"), ("reportingController", "reportingComponent"),
            ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"))
_SAME = ("eventTime", "series", "reportingInstance", "action", "reason", "related", "type")


def _series(series: Any) -> Any:
    """Both groups' EventSeries hold count and lastObservedTime (core's deprecated state is dropped)."""
    if not isinstance(series, dict):
        return series
    return {k: series[k] for k in ("count", "lastObservedTime") if k in series}


def from_core(obj: Obj) -> Obj:
    """A stored core/v1 Event as events.k8s.io/v1 shows it."""
    if obj.get("apiVersion") == "events.k8s.io/v1":
        return obj
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": obj.get("metadata") or {}}
    for name in _SAME:
        if obj.get(name) is not None:
            out[name] = _series(obj[name]) if name == "series" else obj[name]
    for new, old in _RENAMED:
        if obj.get(old) not in (None, "", {}):
            out[new] = obj[old]
    out.setdefault("regarding", {})
    return out


def to_core(obj: Obj) -> Obj:
    """An events.k8s.io/v1 Event as it is stored (and as core/v1 shows it)."""
    out: Obj = {"apiVersion": "v1", "kind": "Event", "metadata": obj.get("metadata") or {}}
    for name in _SAME:
        if obj.get(name) is not None:
            out[name] = _series(obj[name]) if name == "series" else obj[name]
    for new, old in _RENAMED:
        if obj.get(new) not in (None, "", {}):
            out[old] = obj[new]
    out.setdefault("involvedObject", {})
    return out


class Event(K8sObject):
    """A report of something that happened to an object (the events.k8s.io view of events)."""
    spec_fields = ()
    event_time: str | None = None
    """When the event first happened, in microseconds."""
    series: EventsEventSeries | None = None
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
    deprecated_source: EventSource | None = None
    """The reporting component, in the core/v1 shape."""
    deprecated_first_timestamp: str | None = None
    """The core/v1 firstTimestamp."""
    deprecated_last_timestamp: str | None = None
    """The core/v1 lastTimestamp."""
    deprecated_count: Int32 | None = None
    """The core/v1 count."""

    def validation_errors(self) -> list[FieldError]:
        """kube's legacyValidateEvent (every write); the strict events.k8s.io/v1 rules are `create_errors`."""
        out: list[FieldError] = []
        namespace = self.metadata.namespace or ""
        regarding_ns = (self.regarding.namespace if self.regarding else None) or ""
        if not self.event_time:  # an "old" event: only its namespace is checked
            if (not regarding_ns and namespace not in ("", "default")) or (regarding_ns and regarding_ns != namespace):
                out.append(FieldError.invalid("involvedObject.namespace", regarding_ns, "does not match event.namespace"))
        else:
            if not regarding_ns and namespace not in ("default", "kube-system"):
                out.append(FieldError.invalid("involvedObject.namespace", regarding_ns, "does not match event.namespace"))
            if not self.reporting_controller:
                out.append(FieldError.required("reportingController"))
            else:
                out += [FieldError.invalid("reportingController", self.reporting_controller, m)
                        for m in qualified_name_errors(self.reporting_controller)]
            for path, value, limit in (("reportingInstance", self.reporting_instance, REPORTING_INSTANCE_LIMIT),
                                       ("action", self.action, ACTION_LIMIT), ("reason", self.reason, REASON_LIMIT)):
                if not value:
                    out.append(FieldError.required(path))
                elif len(value) > limit:
                    out.append(FieldError.invalid(path, "", f"can have at most {limit} characters"))
            if self.note and len(self.note) > NOTE_LIMIT:
                out.append(FieldError.invalid("note", "", f"can have at most {NOTE_LIMIT} characters"))
        return out

    def create_errors(self) -> list[FieldError]:
        """kube's strict events.k8s.io/v1 rules, on create only (the registry calls this then)."""
        out = self._series_errors()
        if not self.event_time:
            out.append(FieldError.required("eventTime"))
        if self.type not in EVENT_TYPES:
            out.append(FieldError.invalid("type", "", f"has invalid value: {self.type or ''}"))
        for path, value in (("deprecatedFirstTimestamp", self.deprecated_first_timestamp),
                            ("deprecatedLastTimestamp", self.deprecated_last_timestamp),
                            ("deprecatedCount", self.deprecated_count)):
            if value:
                out.append(FieldError.invalid(path, "", "needs to be unset"))
        if self.deprecated_source and (self.deprecated_source.component or self.deprecated_source.host):
            out.append(FieldError.invalid("deprecatedSource", "", "needs to be unset"))
        return out

    def _series_errors(self) -> list[FieldError]:
        if self.series is None:
            return []
        out: list[FieldError] = []
        count = self.series.count
        if count is None or count < 2:
            out.append(FieldError.invalid("series.count", "", "should be at least 2"))
        if not self.series.last_observed_time:
            out.append(FieldError.required("series.lastObservedTime"))
        return out

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        """kube's ValidateEventUpdate for events.k8s.io/v1: only the series may change."""
        assert isinstance(old, Event)
        out = self._series_errors() if self.series != old.series else []
        for name in ("regarding", "reason", "note", "deprecated_source", "deprecated_first_timestamp",
                     "deprecated_last_timestamp", "deprecated_count", "type", "event_time", "action", "related",
                     "reporting_controller", "reporting_instance"):
            if getattr(self, name) != getattr(old, name):
                field = type(self).model_fields[name].alias or name
                value = getattr(self, name)
                out.append(FieldError.invalid(field, value.dump() if isinstance(value, K8sModel) else value,
                                              "field is immutable"))
        return out
