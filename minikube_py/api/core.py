"""core/v1 kinds (placeholder: replaced by the full models)."""

from __future__ import annotations

from typing import Any

from .meta import K8sObject


class _Loose(K8sObject):
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class Namespace(_Loose): ...
class Node(_Loose): ...
class Pod(_Loose): ...
class Service(_Loose): ...
class PersistentVolume(_Loose): ...
class PersistentVolumeClaim(_Loose): ...


class Endpoints(K8sObject):
    subsets: list[dict[str, Any]] | None = None


class ConfigMap(K8sObject):
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    immutable: bool | None = None


class Secret(K8sObject):
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    type: str | None = None
    immutable: bool | None = None


class Event(K8sObject):
    involved_object: dict[str, Any] | None = None
    reason: str | None = None
    message: str | None = None
    source: dict[str, Any] | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int | None = None
    type: str | None = None
