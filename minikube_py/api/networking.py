"""networking.k8s.io/v1 kinds (placeholder: replaced by the full models)."""

from __future__ import annotations

from typing import Any

from .meta import K8sObject


class Ingress(K8sObject):
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class IngressClass(K8sObject):
    spec: dict[str, Any] | None = None
