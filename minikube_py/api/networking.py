"""networking.k8s.io/v1 kinds: Ingress and IngressClass (decoded by the apiserver, served by the
agent's ingress proxy later)."""

from __future__ import annotations

from pydantic import model_validator

from .errors import FieldError
from .meta import Int32, K8sModel, K8sObject
from .parts import (
    IngressClassParametersReference,
    IngressLoadBalancerStatus,
    IngressStatus,
    TypedLocalObjectReference,
)

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


class ServiceBackendPort(K8sModel):
    name: str | None = None
    number: Int32 | None = None


class IngressServiceBackend(K8sModel):
    name: str | None = None
    port: ServiceBackendPort | None = None


class IngressBackend(K8sModel):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(K8sModel):
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend | None = None


class HTTPIngressRuleValue(K8sModel):
    paths: list[HTTPIngressPath] | None = None


class IngressRule(K8sModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(K8sModel):
    hosts: list[str] | None = None
    secret_name: str | None = None


class IngressSpec(K8sModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] | None = None
    rules: list[IngressRule] | None = None


def _backend_errors(b: IngressBackend | None, path: str) -> list[FieldError]:
    if b is None:
        return [FieldError.required(path)]
    if (b.service is None) == (b.resource is None):
        return [FieldError.invalid(path, "", "cannot set both service and resource backends" if b.service else
                                   "one of `service` or `resource` must be specified")]
    out: list[FieldError] = []
    if b.service is not None:
        if not b.service.name:
            out.append(FieldError.required(f"{path}.service.name"))
        port = b.service.port
        if port is None or (port.name is None and port.number is None):
            out.append(FieldError.required(f"{path}.service.port", "port name or number is required"))
        elif port.name and port.number:
            out.append(FieldError.invalid(f"{path}.service.port", "", "cannot set both port name & port number"))
        elif port.number is not None and not 1 <= port.number <= 65535:
            out.append(FieldError.invalid(f"{path}.service.port.number", port.number,
                                          "must be between 1 and 65535, inclusive"))
    return out


class Ingress(K8sObject):
    spec: IngressSpec | None = None
    status: IngressStatus | None = None

    def prepare_for_create(self) -> None:
        self.status = IngressStatus(load_balancer=IngressLoadBalancerStatus())

    def validation_errors(self) -> list[FieldError]:
        spec = self.spec or IngressSpec()
        out: list[FieldError] = []
        if not spec.rules and spec.default_backend is None:
            out.append(FieldError.invalid("spec", "", "either `defaultBackend` or `rules` must be specified"))
        if spec.default_backend is not None:
            out += _backend_errors(spec.default_backend, "spec.defaultBackend")
        for i, rule in enumerate(spec.rules or []):
            for j, p in enumerate((rule.http.paths if rule.http else None) or []):
                path = f"spec.rules[{i}].http.paths[{j}]"
                if not p.path_type:
                    out.append(FieldError.required(f"{path}.pathType", "pathType must be specified"))
                elif p.path_type not in PATH_TYPES:
                    out.append(FieldError.not_supported(f"{path}.pathType", p.path_type, PATH_TYPES))
                elif p.path_type in ("Exact", "Prefix") and not (p.path or "").startswith("/"):
                    out.append(FieldError.invalid(f"{path}.path", p.path or "", "must be an absolute path"))
                out += _backend_errors(p.backend, f"{path}.backend")
        return out


class IngressClassSpec(K8sModel):
    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


class IngressClass(K8sObject):
    spec: IngressClassSpec | None = None

    @model_validator(mode="after")
    def _defaults(self) -> IngressClass:
        if self.spec is None:
            self.spec = IngressClassSpec()
        return self

    def validation_errors(self) -> list[FieldError]:
        if not (self.spec and self.spec.controller):
            return [FieldError.required("spec.controller")]
        return []
