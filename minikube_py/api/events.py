"""events.k8s.io/v1 kinds (placeholder: replaced by the full models)."""

from __future__ import annotations

from typing import Any

from .meta import K8sObject


class Event(K8sObject):
    event_time: str | None = None
    series: dict[str, Any] | None = None
    reporting_controller: str | None = None
    reporting_instance: str | None = None
    action: str | None = None
    reason: str | None = None
    regarding: dict[str, Any] | None = None
    related: dict[str, Any] | None = None
    note: str | None = None
    type: str | None = None
    deprecated_source: dict[str, Any] | None = None
    deprecated_first_timestamp: str | None = None
    deprecated_last_timestamp: str | None = None
    deprecated_count: int | None = None
