"""Small core/v1 structs written by hand that both pod.py and the generated parts.py hold (probe
handlers, key-to-path items, node selectors, object references), so each Kubernetes struct has one
model and one OpenAPI definition.  They depend on meta.py alone: parts.py imports them, pod.py
imports parts.py.  tests/tools/gen_api_parts.py lists them in its HAND table.
"""

from __future__ import annotations

from pydantic import model_validator

from .meta import Int32, IntOrString, K8sModel, Quantity


class ObjectFieldSelector(K8sModel):
    """Picks a field of the pod, such as metadata.name or status.podIP."""
    api_version: str | None = None
    """The version of the schema the field path is written in (v1 by default)."""
    field_path: str | None = None
    """The path of the field, such as metadata.namespace."""

    @model_validator(mode="after")
    def _defaults(self) -> ObjectFieldSelector:
        if self.api_version is None:
            self.api_version = "v1"
        return self


class ResourceFieldSelector(K8sModel):
    """Picks a container's resource request or limit, such as limits.cpu."""
    container_name: str | None = None
    """The container whose resources are read; required in volumes."""
    resource: str | None = None
    """The resource to read, such as requests.memory."""
    divisor: Quantity | None = None
    """The unit the value is expressed in (1 by default)."""


class HTTPHeader(K8sModel):
    """A header of an HTTP probe request."""
    name: str | None = None
    """The header name."""
    value: str | None = None
    """The header value."""


class HTTPGetAction(K8sModel):
    """An HTTP GET request a probe makes; a status from 200 to 399 is success."""
    path: str | None = None
    """The path to request."""
    port: IntOrString | None = None
    """The port number or the container port name to connect to."""
    host: str | None = None
    """The host to connect to; the pod's IP address by default."""
    scheme: str | None = None
    """HTTP (the default) or HTTPS."""
    http_headers: list[HTTPHeader] | None = None
    """Extra headers to send."""

    @model_validator(mode="after")
    def _defaults(self) -> HTTPGetAction:
        if self.path is None:
            self.path = "/"
        if self.scheme is None:
            self.scheme = "HTTP"
        return self


class ExecAction(K8sModel):
    """A command a probe runs in the container; exit status 0 is success."""
    command: list[str] | None = None
    """The command and its arguments (not run in a shell)."""


class TCPSocketAction(K8sModel):
    """A TCP connection a probe opens; connecting is success."""
    port: IntOrString | None = None
    """The port number or the container port name."""
    host: str | None = None
    """The host to connect to; the pod's IP address by default."""


class KeyToPath(K8sModel):
    """A key of a ConfigMap or Secret, projected to a file."""
    key: str | None = None
    """The key to project."""
    path: str | None = None
    """The relative file path to write it to."""
    mode: Int32 | None = None
    """The file's permission bits (0 to 0777)."""


class HostPathVolumeSource(K8sModel):
    """A file or directory of the node."""
    path: str | None = None
    """The path on the node."""
    type: str | None = None
    """What must be at the path (DirectoryOrCreate, Directory, File, Socket, ...)."""

    @model_validator(mode="after")
    def _defaults(self) -> HostPathVolumeSource:
        if self.type is None:
            self.type = ""
        return self


class NodeSelectorRequirement(K8sModel):
    """A condition on a node's labels or fields."""
    key: str | None = None
    """The label key or field."""
    operator: str | None = None
    """In, NotIn, Exists, DoesNotExist, Gt or Lt."""
    values: list[str] | None = None
    """The values to compare with."""


class NodeSelectorTerm(K8sModel):
    """Conditions a node must all match."""
    match_expressions: list[NodeSelectorRequirement] | None = None
    """Conditions on the node's labels."""
    match_fields: list[NodeSelectorRequirement] | None = None
    """Conditions on the node's fields (metadata.name)."""


class NodeSelector(K8sModel):
    """A set of terms, one of which a node must match."""
    node_selector_terms: list[NodeSelectorTerm] | None = None
    """The terms (ORed)."""


class LocalObjectReference(K8sModel):
    """An object in the same namespace, by name."""
    name: str | None = None
    """The object's name."""
