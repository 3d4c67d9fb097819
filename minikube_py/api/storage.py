"""storage.k8s.io/v1 kinds (placeholder: replaced by the full models)."""

from __future__ import annotations

from typing import Any

from .meta import K8sObject


class StorageClass(K8sObject):
    provisioner: str | None = None
    parameters: dict[str, str] | None = None
    reclaim_policy: str | None = None
    volume_binding_mode: str | None = None
    allow_volume_expansion: bool | None = None
    mount_options: list[str] | None = None
    allowed_topologies: list[dict[str, Any]] | None = None
