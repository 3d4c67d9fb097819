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
    """A port of the backend service."""
    name: str | None = None
    """The port's name."""
    number: Int32 | None = None
    """The port's number."""


class IngressServiceBackend(K8sModel):
    """A service that receives the traffic."""
    name: str | None = None
    """The service's name, in the ingress's namespace."""
    port: ServiceBackendPort | None = None
    """The service port to send to."""


class IngressBackend(K8sModel):
    """Where matching requests go: a service, or another resource."""
    service: IngressServiceBackend | None = None
    """A service and port."""
    resource: TypedLocalObjectReference | None = None
    """Another object (exclusive with service)."""


class HTTPIngressPath(K8sModel):
    """A path and the backend its requests go to."""
    path: str | None = None
    """The path to match; must start with '/'."""
    path_type: str | None = None
    """Exact, Prefix (matched by path segments) or ImplementationSpecific."""
    backend: IngressBackend | None = None
    """Where matching requests go."""


class HTTPIngressRuleValue(K8sModel):
    """HTTP paths and their backends."""
    paths: list[HTTPIngressPath] | None = None
    """The paths, each with its backend."""


class IngressRule(K8sModel):
    """Maps the requests for a host to backends."""
    host: str | None = None
    """The host name to match (a wildcard like *.example.com matches one label); all hosts when empty."""
    http: HTTPIngressRuleValue | None = None
    """The paths of this host."""


class IngressTLS(K8sModel):
    """TLS for some hosts."""
    hosts: list[str] | None = None
    """The host names the certificate covers."""
    secret_name: str | None = None
    """The kubernetes.io/tls Secret with the certificate and key."""


class IngressSpec(K8sModel):
    """The desired state of an ingress."""
    ingress_class_name: str | None = None
    """The IngressClass (ingress controller) that serves this ingress."""
    default_backend: IngressBackend | None = None
    """Where requests that match no rule go."""
    tls: list[IngressTLS] | None = None
    """TLS settings, each for some hosts."""
    rules: list[IngressRule] | None = None
    """Host and path rules; requests matching none go to the default backend."""


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
    """Routes HTTP and HTTPS traffic from outside the cluster to services, by host and path."""
    spec: IngressSpec | None = None
    """The desired state of the ingress."""
    status: IngressStatus | None = None
    """The load balancer addresses of the ingress."""

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
    """The controller of an ingress class."""
    controller: str | None = None
    """The controller's name, such as example.com/ingress-controller."""
    parameters: IngressClassParametersReference | None = None
    """A reference to the controller's configuration."""


class IngressClass(K8sObject):
    """A kind of ingress and the controller that implements it."""
    spec: IngressClassSpec | None = None
    """The controller's name and parameters."""

    @model_validator(mode="after")
    def _defaults(self) -> IngressClass:
        if self.spec is None:
            self.spec = IngressClassSpec()
        return self

    def validation_errors(self) -> list[FieldError]:
        if not (self.spec and self.spec.controller):
            return [FieldError.required("spec.controller")]
        return []
