"""Object metadata and the base classes every kind is built from.

Conventions for all models in `minikube_py.api` (the kind modules, the apiserver and the
client rely on them):

- Python attributes are snake_case; the wire name is camelCase through the alias generator.
  Where Kubernetes' name is not plain camelCase (`hostIP`, `podCIDR`, `clusterIPs`) the field
  sets `alias=` explicitly.
- Decoding is strict (no "3" -> 3) and unknown fields are errors of type `extra_forbidden`;
  the apiserver turns those into Strict rejections or Warn warnings (fieldValidation).
- Nothing is required at decode time: required fields are checked by `validation_errors()` so
  that a missing one is a 422 "Required value" naming the field, as in Kubernetes.
- Optional fields default to None and are omitted when dumped (`dump()`); defaults that
  Kubernetes persists are applied in `model_validator(mode="after")` hooks or field defaults.
- List fields that strategic merge patch merges by key carry `json_schema_extra=merge_by("name")`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AliasGenerator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from . import quantity
from .errors import FieldError
from .selectors import label_selector_matches

# --- scalar types of the API --------------------------------------------------------------------


INT_BITS = {-(2 ** 31): 32, -(2 ** 63): 64}  # the lower bound of Int32 and Int64 -> the Go type's bits


def _bounded(bits: int) -> Any:
    """The range of a Go intN, checked by pydantic-core itself (no Python call per field); decode.py
    turns its greater_than_equal / less_than_equal errors into Go's "cannot unmarshal number"."""
    return Field(ge=-(2 ** (bits - 1)), le=2 ** (bits - 1) - 1)


# the API's int32 fields (replicas, ports, ...): a wider number is a 400; the schemas say the format
Int32 = Annotated[int, _bounded(32), WithJsonSchema({"type": "integer", "format": "int32"})]
Int64 = Annotated[int, _bounded(64), WithJsonSchema({"type": "integer", "format": "int64"})]
Quantity = Annotated[str | int | float, AfterValidator(quantity.canonical)]
IntOrString = int | str

# --- base classes -------------------------------------------------------------------------------


class K8sModel(BaseModel):
    """Base of every API struct: camelCase on the wire, strict, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        strict=True,
        validate_default=False,
        ser_json_timedelta="iso8601",
        use_attribute_docstrings=True,  # a field's docstring is its description in the OpenAPI documents
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase, None fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def merge_by(key: str, *, retain_keys: bool = False) -> dict[str, Any]:
    """`json_schema_extra` of a list merged by `key` in a strategic merge patch."""
    strategy = "merge,retainKeys" if retain_keys else "merge"
    return {"x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": strategy}


def patch_strategy(strategy: str) -> dict[str, Any]:
    """`json_schema_extra` for other strategies (`replace`, `retainKeys`)."""
    return {"x-kubernetes-patch-strategy": strategy}


def list_map(*keys: str) -> dict[str, Any]:
    """openapi `x-kubernetes-list-type: map` markers (kept for openapi fidelity)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


# --- metadata -----------------------------------------------------------------------------------


class OwnerReference(K8sModel):
    """A pointer to an object that owns this one."""
    api_version: str | None = None
    """The owner's API version."""
    kind: str | None = None
    """The owner's kind."""
    name: str | None = None
    """The owner's name."""
    uid: str | None = None
    """The owner's uid."""
    controller: bool | None = None
    """True when the owner is the managing controller of this object."""
    block_owner_deletion: bool | None = None
    """When true, a foreground deletion of the owner waits until this object is deleted."""


class ManagedFieldsEntry(K8sModel):
    manager: str | None = None
    operation: str | None = None
    api_version: str | None = None
    time: str | None = None
    fields_type: str | None = None
    fields_v1: dict[str, Any] | None = Field(None, alias="fieldsV1")
    subresource: str | None = None


class ObjectMeta(K8sModel):
    """Metadata every persisted object has: its name and namespace, labels and annotations, and the fields
    the server maintains."""
    name: str | None = None
    """The object's name, unique among objects of its kind in its namespace; it cannot be changed once set."""
    generate_name: str | None = None
    """A prefix from which the server makes a unique name (adding random characters) when name is empty."""
    namespace: str | None = None
    """The namespace the object lives in; empty for cluster-scoped kinds, and "default" when a namespaced
    object names none."""
    self_link: str | None = None
    """Deprecated and left empty by the server."""
    uid: str | None = None
    """A unique identifier the server assigns on creation; a new object with the same name gets a new uid."""
    resource_version: str | None = None
    """An opaque version of the object, changed on every write; sent back on update for optimistic
    concurrency."""
    generation: Int64 | None = None
    """A number the server increments each time the desired state (usually spec) changes."""
    creation_timestamp: str | None = None
    """When the server created the object (RFC 3339, UTC); set by the server, read-only."""
    deletion_timestamp: str | None = None
    """When the object will be gone: set by the server when a deletion was asked for and finalizers or a
    grace period keep the object for now."""
    deletion_grace_period_seconds: Int64 | None = None
    """The grace period, in seconds, that the pending deletion allows."""
    labels: dict[str, str] | None = None
    """Key/value pairs that selectors (of services, deployments, kubectl -l) match objects by."""
    annotations: dict[str, str] | None = None
    """Key/value pairs for tools and people; not used to select objects."""
    owner_references: list[OwnerReference] | None = Field(None, json_schema_extra=merge_by("uid"))
    """The objects this one belongs to; when every owner is gone the garbage collector deletes it. At most
    one owner is its controller."""
    finalizers: list[str] | None = Field(None, json_schema_extra=patch_strategy("merge"))
    """Names of cleanups that must finish before the object is removed; deletion waits until the list is
    empty."""
    managed_fields: list[ManagedFieldsEntry] | None = None
    """Which manager (field manager) set which fields, and when."""


class ListMeta(K8sModel):
    resource_version: str | None = None
    continue_: str | None = Field(None, alias="continue")
    remaining_item_count: int | None = None
    self_link: str | None = None


class LabelSelectorRequirement(K8sModel):
    """One condition of a label selector."""
    key: str | None = None
    """The label key the condition is about."""
    operator: str | None = None
    """In, NotIn, Exists or DoesNotExist."""
    values: list[str] | None = None
    """The values for In and NotIn; must be empty for Exists and DoesNotExist."""


class LabelSelector(K8sModel):
    """A query over labels: matchLabels and matchExpressions, all of which must hold. An empty selector
    matches every object."""
    match_labels: dict[str, str] | None = None
    """Labels that must be present with exactly these values."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Conditions on label keys (In, NotIn, Exists, DoesNotExist)."""


class K8sObject(K8sModel):
    """A top-level object: TypeMeta + ObjectMeta (+ spec/status in subclasses).

    Subclasses may override the hooks below; the apiserver calls them.
    """

    api_version: str | None = None
    """The group and version of the schema this object follows, such as v1 or apps/v1."""
    kind: str | None = None
    """The kind of object, such as Pod or Deployment (CamelCase)."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata: name, namespace, labels, annotations and server-set fields."""

    # Names of fields that hold user intent: a change to them bumps metadata.generation.
    spec_fields: ClassVar[tuple[str, ...]] = ("spec",)

    def validation_errors(self) -> list[FieldError]:
        """Kubernetes' ValidateXxx on create: semantic checks, field paths in the errors."""
        return []

    def create_errors(self) -> list[FieldError]:
        """Extra checks on create only (kube's ValidateXxxCreate); `validation_errors()` runs too."""
        return []

    def update_errors(self, old: K8sObject) -> list[FieldError]:
        """Extra checks on update (immutable fields); `validation_errors()` runs too."""
        return []

    def prepare_for_create(self) -> None:
        """Reset what a client may not set on create (status of kinds with a status subresource)."""

    def name_is_dns_label(self) -> bool:
        """Kinds whose names are DNS-1123 labels (namespaces, services) override this."""
        return False


# --- shared validators --------------------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
_DNS1123_LABEL = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE = re.compile(f"^(({_QUALIFIED_NAME_FMT})?)$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
            "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
            f"for validation is '{DNS1123_LABEL_FMT}')"
        )
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
            f"for validation is '{DNS1123_SUBDOMAIN_FMT}')"
        )
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """Label keys, annotation keys: `[prefix/]name`."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + e for e in dns1123_subdomain_errors(prefix)]
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME_FMT}') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME_FMT}')"
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            f"'12345', regex used for validation is '({_QUALIFIED_NAME_FMT})?')"
        )
    return errs


def config_key_errors(value: str) -> list[str]:
    """ConfigMap and Secret data keys."""
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(value):
        errs.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
            "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        )
    return errs


def labels_errors(labels: dict[str, str] | None, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key, val in (labels or {}).items():
        out += [FieldError.invalid(path, key, e) for e in qualified_name_errors(key)]
        out += [FieldError.invalid(f"{path}[{key}]", val, e) for e in label_value_errors(val)]
    return out


def annotations_errors(annotations: dict[str, str] | None, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    total = 0
    for key, val in (annotations or {}).items():
        out += [FieldError.invalid(path, key, e) for e in qualified_name_errors(key.lower())]
        total += len(key) + len(val)
    if total > 256 * 1024:
        out.append(FieldError.too_long(path, "", 256 * 1024))
    return out


def label_selector_errors(sel: LabelSelector | None, path: str) -> list[FieldError]:
    if sel is None:
        return []
    out = labels_errors(sel.match_labels, f"{path}.matchLabels")
    for i, req in enumerate(sel.match_expressions or []):
        p = f"{path}.matchExpressions[{i}]"
        if not req.key:
            out.append(FieldError.required(f"{p}.key"))
        else:
            out += [FieldError.invalid(f"{p}.key", req.key, e) for e in qualified_name_errors(req.key)]
        ops = ["In", "NotIn", "Exists", "DoesNotExist"]
        if req.operator not in ops:
            out.append(FieldError.not_supported(f"{p}.operator", req.operator, ops))
        elif req.operator in ("In", "NotIn") and not req.values:
            out.append(FieldError.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif req.operator in ("Exists", "DoesNotExist") and req.values:
            out.append(
                FieldError.forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            )
    return out


def selector_matches(sel: LabelSelector | None, labels: dict[str, str] | None) -> bool:
    """A metav1.LabelSelector against a label set: no selector matches nothing, an empty one
    everything (the rule itself is selectors.label_selector_matches, on the wire form)."""
    if sel is None:
        return False
    return label_selector_matches(sel.dump(), labels)


def object_meta_errors(meta: ObjectMeta, *, namespaced: bool, name_is_label: bool = False) -> list[FieldError]:
    """ValidateObjectMeta: name (or generateName), namespace, labels, annotations, owners."""
    out: list[FieldError] = []
    if not meta.name:
        if not meta.generate_name:
            out.append(FieldError.required("metadata.name", "name or generateName is required"))
    else:
        check = dns1123_label_errors if name_is_label else dns1123_subdomain_errors
        out += [FieldError.invalid("metadata.name", meta.name, e) for e in check(meta.name)]
    if namespaced:
        if meta.namespace:
            out += [FieldError.invalid("metadata.namespace", meta.namespace, e) for e in dns1123_label_errors(meta.namespace)]
    elif meta.namespace:
        out.append(FieldError.forbidden("metadata.namespace", "not allowed on this type"))
    if meta.generation is not None and meta.generation < 0:
        out.append(FieldError.invalid("metadata.generation", meta.generation, "must be greater than or equal to 0"))
    out += labels_errors(meta.labels, "metadata.labels")
    out += annotations_errors(meta.annotations, "metadata.annotations")
    for i, ref in enumerate(meta.owner_references or []):
        p = f"metadata.ownerReferences[{i}]"
        for attr, wire in (("api_version", "apiVersion"), ("kind", "kind"), ("name", "name"), ("uid", "uid")):
            if not getattr(ref, attr):
                out.append(FieldError.invalid(f"{p}.{wire}", getattr(ref, attr) or "", f"{wire} must not be empty"))
    if sum(1 for r in meta.owner_references or [] if r.controller) > 1:
        out.append(
            FieldError.invalid("metadata.ownerReferences", "", "Only one reference can have Controller set to true")
        )
    for i, fin in enumerate(meta.finalizers or []):
        out += [FieldError.invalid(f"metadata.finalizers[{i}]", fin, e) for e in qualified_name_errors(fin)]
    return out
