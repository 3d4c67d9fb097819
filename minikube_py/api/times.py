"""Timestamps as Kubernetes writes them on the wire: RFC 3339 in UTC, whole seconds
(`2026-12-01T15:43:20Z`; MicroTime fields such as a Lease's renewTime carry microseconds).

One copy of the rule for everyone: the apiserver stamps objects with it, the controllers, the
scheduler and the agents write conditions and events with it and read ages back from it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(seconds: float) -> str:
    """Epoch seconds as a metav1.Time string."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(seconds: float) -> str:
    """Epoch seconds as a metav1.MicroTime string."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    """The current time as a metav1.Time string (code with a clock calls format_time(clock.now()))."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    """A metav1.Time or MicroTime string back to epoch seconds (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
