"""The OpenAPI documents: /openapi/v2 (Swagger 2.0, JSON or gnostic protobuf) and /openapi/v3 (3.0, per group-version).

Served by app.py; both are built here by one builder from the kinds table and the pydantic models
(`minikube_py.api`): one set of definitions (every kind's full nested schema, with the field
descriptions of the models) and one set of operations, written out in the v2 or the v3 dialect.
The protobuf form of v2 is encoded by `gnostic.py`.  What kubectl does with them (read from
kubectl/client-go behaviour):

- `create/apply/replace/edit` (kubectl >= 1.27) first fetch `/openapi/v3`, then the group-version
  document named by its `serverRelativeURL`, and look for the PATCH operations whose
  `x-kubernetes-group-version-kind` names the object's kind.  Every such operation (subresources
  included) must list the query parameter `fieldValidation`; then kubectl skips client-side schema
  validation and sends `fieldValidation=Strict`, and this server enforces it (decode.py).  For a
  kind missing from v3 (one this server does not serve) kubectl falls back to `/openapi/v2`; its
  client-side validation skips kinds the document lacks, and the object then fails alone with
  `no matches for kind`.
- Older kubectls (1.20 and 1.24 here) read only `/openapi/v2`, as protobuf (the gnostic
  `openapi_v2.Document`; 1.20's client retries `/swagger-2.0.0.pb-v1` on a 404): 1.24 to 1.26 look
  for `fieldValidation` on the PATCH operations there, older ones validate the object client-side
  against the definitions (unknown fields, primitive types), so the definitions must be the
  server's real schemas.  kubectl 1.24 decides for a kind missing from the document by listing
  CustomResourceDefinitions, which this server does not serve: such a file fails as a whole there.
- `apply` (client-side) computes its strategic merge patch from the v3 schema only when the PATCH
  operation's request body lists `application/strategic-merge-patch+json`.  We leave that content
  type out (the server still accepts such patches); every kubectl then takes the patch metadata from the v2 definitions found by the kind
  (`x-kubernetes-patch-merge-key` / `-strategy`, which the models carry with `merge_by` exactly
  where Kubernetes' types have them: containers by name, ports by containerPort, retainKeys on
  volumes and on a deployment's strategy, ...), and falls back to its compiled types if the
  document lacks the kind.
- `explain` reads the definitions (v3 from 1.27 on, v2 before), found by their
  `x-kubernetes-group-version-kind`; a field's text is its model field's description.
"""

from __future__ import annotations

import hashlib
import typing
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel

from ..api import parts
from ..api.kinds import BY_GROUP_VERSION, KINDS, KindInfo

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_PRODUCES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_V2_REF = "#/definitions/"
_V3_REF = "#/components/schemas/"
_DEFS_PREFIX = "#/$defs/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_STATUS = f"{_META}.Status"
_DELETE_OPTIONS = f"{_META}.DeleteOptions"
_PATCH = f"{_META}.Patch"
_SCALE = "io.k8s.api.autoscaling.v1.Scale"

# The definition package of the structs of each model module (Kubernetes' Go package names).
_MODULE_PACKAGES = {
    "meta": _META, "core": "io.k8s.api.core.v1", "pod": "io.k8s.api.core.v1", "taints": "io.k8s.api.core.v1",
    "structs": "io.k8s.api.core.v1", "discovery": "io.k8s.api.discovery.v1",
    "apps": "io.k8s.api.apps.v1", "networking": "io.k8s.api.networking.v1", "storage": "io.k8s.api.storage.v1",
    "coordination": "io.k8s.api.coordination.v1", "events": "io.k8s.api.events.v1",
}
# Our struct names that differ from Kubernetes' (the name `explain` prints between angle brackets).
_KUBE_NAMES = {"PVCVolumeSource": "PersistentVolumeClaimVolumeSource", "PVCSpec": "PersistentVolumeClaimSpec"}

_API_VERSION = {"type": "string", "description": "The group and version of the schema, such as v1 or apps/v1."}
_KIND = {"type": "string", "description": "The kind of object (CamelCase)."}

# Definitions written by hand: the apimachinery types that are not models here.
_FIXED: dict[str, dict[str, Any]] = {
    _INT_OR_STRING: {"description": "A value that is either an integer or a string (such as a port number or a "
                                    "port name, or a count or a percentage).",
                     "type": "string", "format": "int-or-string"},
    _QUANTITY: {"description": "A fixed-point number with an optional suffix, such as 100m (0.1) of CPU or "
                               "128Mi of memory; written as a string or a number.", "type": "string"},
    _STATUS: {"description": "The result of an operation that returns no object: success, or why it failed.",
              "type": "object",
              "properties": {"apiVersion": _API_VERSION, "kind": _KIND,
                             "metadata": {"$ref": _V2_REF + f"{_META}.ListMeta"},
                             "status": {"description": "Success or Failure.", "type": "string"},
                             "message": {"description": "A readable description of the outcome.", "type": "string"},
                             "reason": {"description": "A machine-readable reason (NotFound, AlreadyExists, ...).",
                                        "type": "string"},
                             "details": {"description": "More about the object concerned.", "type": "object"},
                             "code": {"description": "The HTTP status code.", "type": "integer", "format": "int32"}},
              "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Status"}]},
    _DELETE_OPTIONS: {"description": "Options of a delete request.", "type": "object",
                      "properties": {
                          "apiVersion": _API_VERSION, "kind": _KIND,
                          "dryRun": {"type": "array", "items": {"type": "string"},
                                     "description": "All: check the request without persisting anything."},
                          "gracePeriodSeconds": {"type": "integer", "format": "int64",
                                                 "description": "Seconds the object gets before it is deleted."},
                          "orphanDependents": {"type": "boolean", "description": "Deprecated: use propagationPolicy."},
                          "propagationPolicy": {"type": "string",
                                                "description": "Orphan, Background or Foreground: what happens to "
                                                               "the objects this one owns."},
                          "preconditions": {"type": "object",
                                            "description": "A uid and resourceVersion the object must still have."}},
                      "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "DeleteOptions"}]},
    _PATCH: {"description": "The body of a PATCH request: a JSON patch, a merge patch or a strategic merge patch.",
             "type": "object"},
    f"{_META}.ListMeta": {"description": "Metadata of a list: its resourceVersion and continue token.",
                          "type": "object",
                          "properties": {
                              "resourceVersion": {"type": "string", "description": "The version of the list, to "
                                                                                   "watch from."},
                              "continue": {"type": "string", "description": "A token to get the next page, when "
                                                                            "the list was cut by limit."},
                              "remainingItemCount": {"type": "integer", "format": "int64",
                                                     "description": "How many items the next pages hold, when "
                                                                    "known."}}},
    _SCALE: {"description": "The scale subresource: the desired and the observed number of replicas.",
             "type": "object",
             "properties": {"apiVersion": _API_VERSION, "kind": _KIND,
                            "metadata": {"$ref": _V2_REF + f"{_META}.ObjectMeta"},
                            "spec": {"type": "object", "description": "The desired scale.",
                                     "properties": {"replicas": {"type": "integer", "format": "int32",
                                                                 "description": "The desired number of replicas."}}},
                            "status": {"type": "object", "description": "The observed scale.",
                                       "properties": {"replicas": {"type": "integer", "format": "int32"},
                                                      "selector": {"type": "string"}}}},
             "x-kubernetes-group-version-kind": [{"group": "autoscaling", "version": "v1", "kind": "Scale"}]},
}

# The fields Kubernetes' schemas mark required (`+required` in k8s.io/api), for the structs that have
# them: kubectl 1.20's client-side validation reports a missing one, and `explain` prints -required-.
_CORE = "io.k8s.api.core.v1"
_REQUIRED: dict[str, tuple[str, ...]] = {
    f"{_CORE}.Container": ("name",), f"{_CORE}.PodSpec": ("containers",),
    f"{_CORE}.ContainerPort": ("containerPort",), f"{_CORE}.EnvVar": ("name",),
    f"{_CORE}.VolumeMount": ("name", "mountPath"), f"{_CORE}.Volume": ("name",),
    f"{_CORE}.KeyToPath": ("key", "path"), f"{_CORE}.KeySelector": ("key",),
    f"{_CORE}.ObjectFieldSelector": ("fieldPath",), f"{_CORE}.ResourceFieldSelector": ("resource",),
    f"{_CORE}.HTTPGetAction": ("port",), f"{_CORE}.TCPSocketAction": ("port",), f"{_CORE}.GRPCAction": ("port",),
    f"{_CORE}.HTTPHeader": ("name", "value"),
    f"{_CORE}.HostPathVolumeSource": ("path",), f"{_CORE}.PersistentVolumeClaimVolumeSource": ("claimName",),
    f"{_CORE}.NodeSelector": ("nodeSelectorTerms",), f"{_CORE}.NodeSelectorRequirement": ("key", "operator"),
    f"{_CORE}.PreferredSchedulingTerm": ("weight", "preference"), f"{_CORE}.Taint": ("key", "effect"),
    f"{_CORE}.ServicePort": ("port",), f"{_CORE}.Event": ("metadata", "involvedObject"),
    f"{_CORE}.EndpointPort": ("port",), f"{_CORE}.EndpointAddress": ("ip",),
    f"{_META}.LabelSelectorRequirement": ("key", "operator"),
    f"{_META}.OwnerReference": ("apiVersion", "kind", "name", "uid"),
    "io.k8s.api.apps.v1.DeploymentSpec": ("selector", "template"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("selector",),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("selector", "template"),
    "io.k8s.api.networking.v1.IngressServiceBackend": ("name",),
    "io.k8s.api.networking.v1.HTTPIngressPath": ("pathType", "backend"),
    "io.k8s.api.networking.v1.HTTPIngressRuleValue": ("paths",),
    "io.k8s.api.storage.v1.StorageClass": ("provisioner",),
    "io.k8s.api.events.v1.Event": ("eventTime",),
}


# --- definitions from the models ------------------------------------------------------------------


def _model_classes(model: type[BaseModel], found: dict[str, type[BaseModel]]) -> None:
    """Every model class reachable from `model`'s fields, by class name (pydantic's $defs keys)."""
    if model.__name__ in found:
        return
    found[model.__name__] = model
    for field in model.model_fields.values():
        stack: list[Any] = [field.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                _model_classes(t, found)
            else:
                stack.extend(typing.get_args(t))


def _def_name(cls: type[BaseModel] | None, fallback_package: str, name: str) -> str:
    module = cls.__module__.rsplit(".", 1)[-1] if cls is not None else ""
    if module == "parts":  # generated structs: core/v1 unless parts.KUBE_NAMES says otherwise
        group_version, _, kube_name = parts.KUBE_NAMES.get(name, f"core.v1.{name}").rpartition(".")
        package = _META if group_version == "meta.v1" else f"io.k8s.api.{group_version}"
        return f"{package}.{kube_name}"
    package = _MODULE_PACKAGES.get(module, fallback_package)
    return f"{package}.{_KUBE_NAMES.get(name, name)}"


def _types_of(options: list[Any]) -> set[str]:
    return {str(o.get("type")) for o in options if isinstance(o, dict) and set(o) <= {"type"}}


def _kube_schema(node: Any, names: dict[str, str]) -> Any:
    """One pydantic JSON-schema node in Kubernetes' v2 form: optional fields unwrapped, refs renamed,
    int-or-string and quantities as their apimachinery types, no titles or null defaults."""
    if isinstance(node, list):
        return [_kube_schema(v, names) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node.pop(key) if o != {"type": "null"}]
            kinds = _types_of(options)
            if len(options) == 1:
                inner = options[0]
            elif kinds == {"integer", "string"} and len(options) == 2:
                inner = {"$ref": _V2_REF + _INT_OR_STRING}
            elif kinds == {"integer", "string", "number"} and len(options) == 3:
                inner = {"$ref": _V2_REF + _QUANTITY}
            else:
                inner = {}  # a value of several shapes: any JSON (kube-openapi's Arbitrary)
            node = {**inner, **node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default") or (key == "additionalProperties" and isinstance(value, bool)):
            continue  # a free-form object is `type: object` alone, as Kubernetes writes it
        if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_PREFIX):
            d = value[len(_DEFS_PREFIX):]
            out[key] = _V2_REF + names.get(d, d)
        elif key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())  # docstrings wrap lines; explain wraps them itself
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _kube_schema(v, names) for k, v in value.items()}
        else:
            out[key] = _kube_schema(value, names)
    if "$ref" in out:  # kube-openapi ignores what sits beside a $ref but its description and extensions
        out = {k: v for k, v in out.items() if k == "$ref" or k == "description" or k.startswith("x-")}
    if out.get("type") == "integer":
        out.setdefault("format", "int32")
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    return out


@cache
def _definitions() -> dict[str, dict[str, Any]]:
    """All definitions of the served kinds (v2 form, refs `#/definitions/...`), their lists and `_FIXED`."""
    defs: dict[str, dict[str, Any]] = dict(_FIXED)
    for info in KINDS:
        classes: dict[str, type[BaseModel]] = {}
        _model_classes(info.model, classes)
        raw = info.model.model_json_schema(by_alias=True, ref_template=_DEFS_PREFIX + "{model}")
        raw_defs = raw.pop("$defs", {})
        package = _kind_package(info)
        names = {d: _def_name(classes.get(d), package, d) for d in raw_defs}
        for d, schema in raw_defs.items():
            defs.setdefault(names[d], _kube_schema(schema, names))
        top = _kube_schema(raw, names)
        top["x-kubernetes-group-version-kind"] = [{"group": info.group, "version": info.version, "kind": info.kind}]
        defs[f"{package}.{info.kind}"] = top
        defs[f"{package}.{info.kind}List"] = {
            "description": f"A list of {info.kind} objects.",
            "type": "object",
            "required": ["items"],
            "properties": {"apiVersion": _API_VERSION, "kind": _KIND,
                           "metadata": {"$ref": _V2_REF + f"{_META}.ListMeta",
                                        "description": "The list's resourceVersion and continue token."},
                           "items": {"type": "array", "items": {"$ref": _V2_REF + f"{package}.{info.kind}"},
                                     "description": f"The {info.plural}."}},
            "x-kubernetes-group-version-kind": [{"group": info.group, "version": info.version,
                                                 "kind": f"{info.kind}List"}],
        }
    for name, fields in _REQUIRED.items():
        props = defs.get(name, {}).get("properties", {})
        if fields and props:
            defs[name]["required"] = [f for f in fields if f in props]
    return defs


def _kind_package(info: KindInfo) -> str:
    module = info.model.__module__.rsplit(".", 1)[-1]
    if module in _MODULE_PACKAGES and module != "meta":
        return _MODULE_PACKAGES[module]
    group = info.group.split(".")[0] if info.group else "core"
    return f"io.k8s.api.{group}.{info.version}"


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rsplit("/", 1)[-1])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def _closure(roots: list[str]) -> dict[str, dict[str, Any]]:
    """The definitions `roots` need, transitively."""
    defs = _definitions()
    seen: dict[str, dict[str, Any]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = defs[name]
        found: set[str] = set()
        _refs(defs[name], found)
        todo.extend(found - set(seen))
    return dict(sorted(seen.items()))


# --- operations -------------------------------------------------------------------------------------


Param = tuple[str, str, str, bool, str]  # name, in, type, required, description

_WRITE_PARAMS: list[Param] = [
    ("dryRun", "query", "string", False, "When present, indicates that modifications should not be persisted."),
    ("fieldManager", "query", "string", False, "A name associated with the actor or entity making these changes."),
    ("fieldValidation", "query", "string", False,
     "Ignore, Warn (the default) or Strict: what to do with unknown or duplicate fields."),
]
_LIST_PARAMS: list[Param] = [(n, "query", "string", False, "") for n in (
    "labelSelector", "fieldSelector", "continue", "resourceVersion", "resourceVersionMatch")] + [
    ("limit", "query", "integer", False, ""), ("timeoutSeconds", "query", "integer", False, ""),
    ("watch", "query", "boolean", False, ""), ("allowWatchBookmarks", "query", "boolean", False, ""),
    ("sendInitialEvents", "query", "boolean", False, "")]
_DELETE_PARAMS: list[Param] = [("dryRun", "query", "string", False, ""),
                               ("gracePeriodSeconds", "query", "integer", False, ""),
                               ("propagationPolicy", "query", "string", False, ""),
                               ("orphanDependents", "query", "boolean", False, "")]
_PRETTY: Param = ("pretty", "query", "string", False, "If 'true', the output is pretty printed.")


class _Dialect:
    """Writes parameters, bodies and responses as Swagger 2.0 or as OpenAPI 3.0."""

    def __init__(self, v3: bool) -> None:
        self.v3 = v3

    def ref(self, name: str) -> dict[str, Any]:
        return {"$ref": (_V3_REF if self.v3 else _V2_REF) + name}

    def param(self, p: Param) -> dict[str, Any]:
        name, where, type_, required, description = p
        out: dict[str, Any] = {"name": name, "in": where}
        if description:
            out["description"] = description
        if required:
            out["required"] = True
        if self.v3:
            out["schema"] = {"type": type_, "uniqueItems": True}
        else:
            out.update(type=type_, uniqueItems=True)
        return out

    def operation(self, info: KindInfo, action: str, op_id: str, schema: str, params: list[Param], *,
                  body: tuple[str, ...] | None = None, body_schema: str | None = None,
                  gvk: tuple[str, str, str] | None = None) -> dict[str, Any]:
        g, v, k = gvk or (info.group, info.version, info.kind)
        tag = ((info.group.split(".")[0] if info.group else "core") + "_" + info.version)
        responses: dict[str, Any] = {"200": self.response("OK", schema)}
        if action == "post":
            responses["201"] = self.response("Created", schema)
            responses["202"] = self.response("Accepted", schema)
        responses["401"] = {"description": "Unauthorized"}
        op: dict[str, Any] = {"description": f"{action} {k}", "operationId": op_id, "tags": [tag]}
        ps = [self.param(p) for p in params]
        if self.v3:
            if body:
                op["requestBody"] = {"content": {t: {"schema": self.ref(body_schema or schema)} for t in body},
                                     "required": True}
        else:
            op["consumes"] = list(body) if body else ["*/*"]
            op["produces"] = list(_PRODUCES)
            op["schemes"] = ["https"]
            if body:
                ps.insert(0, {"name": "body", "in": "body", "required": True, "schema": self.ref(body_schema or schema)})
        op["parameters"] = ps
        op["responses"] = responses
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = {"group": g, "version": v, "kind": k}
        return op

    def response(self, description: str, schema: str) -> dict[str, Any]:
        if self.v3:
            return {"description": description,
                    "content": {t: {"schema": self.ref(schema)} for t in _PRODUCES}}
        return {"description": description, "schema": self.ref(schema)}

    def paths(self, info: KindInfo) -> dict[str, Any]:
        package = _kind_package(info)
        obj, lst = f"{package}.{info.kind}", f"{package}.{info.kind}List"
        gv = info.api_version
        base = f"/apis/{gv}" if info.group else f"/api/{gv}"
        ns_param: list[Param] = [("namespace", "path", "string", True, "object name and auth scope")] \
            if info.namespaced else []
        name_param: list[Param] = [("name", "path", "string", True, f"name of the {info.kind}")]
        coll = f"{base}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{base}/{info.plural}"
        item = f"{coll}/{{name}}"
        suffix = (info.group.split(".")[0].capitalize() if info.group else "Core") + info.version.capitalize() + \
            ("Namespaced" if info.namespaced else "") + info.kind
        write_body = ("*/*",) if not self.v3 else ("application/json", "application/yaml",
                                                     "application/vnd.kubernetes.protobuf")
        patch_params = _WRITE_PARAMS + [("force", "query", "boolean", False,
                                         "Force is going to \"force\" Apply requests.")]
        paths: dict[str, Any] = {
            coll: {
                "get": self.operation(info, "list", f"list{suffix}", lst, _LIST_PARAMS),
                "post": self.operation(info, "post", f"create{suffix}", obj, _WRITE_PARAMS, body=write_body),
                "delete": self.operation(info, "deletecollection", f"deletecollection{suffix}", _STATUS,
                                         _LIST_PARAMS + _DELETE_PARAMS, body=write_body,
                                         body_schema=_DELETE_OPTIONS),
                "parameters": [self.param(p) for p in ns_param + [_PRETTY]],
            },
            item: {
                "get": self.operation(info, "get", f"read{suffix}", obj, []),
                "put": self.operation(info, "put", f"replace{suffix}", obj, _WRITE_PARAMS, body=write_body),
                "delete": self.operation(info, "delete", f"delete{suffix}", _STATUS, _DELETE_PARAMS, body=write_body,
                                         body_schema=_DELETE_OPTIONS),
                "patch": self.operation(info, "patch", f"patch{suffix}", obj, patch_params, body=_PATCH_TYPES,
                                        body_schema=_PATCH),
                "parameters": [self.param(p) for p in name_param + ns_param + [_PRETTY]],
            },
        }
        if info.namespaced:
            paths[f"{base}/{info.plural}"] = {
                "get": self.operation(info, "list", f"list{suffix.replace('Namespaced', '')}ForAllNamespaces", lst,
                                      _LIST_PARAMS),
                "parameters": [self.param(_PRETTY)]}
        item_params = [self.param(p) for p in name_param + ns_param + [_PRETTY]]
        if "status" in info.subresources:
            paths[f"{item}/status"] = {
                "get": self.operation(info, "get", f"read{suffix}Status", obj, []),
                "put": self.operation(info, "put", f"replace{suffix}Status", obj, _WRITE_PARAMS, body=write_body),
                "patch": self.operation(info, "patch", f"patch{suffix}Status", obj, patch_params, body=_PATCH_TYPES,
                                        body_schema=_PATCH),
                "parameters": item_params,
            }
        if "scale" in info.subresources:
            gvk = ("autoscaling", "v1", "Scale")
            paths[f"{item}/scale"] = {
                "get": self.operation(info, "get", f"read{suffix}Scale", _SCALE, [], gvk=gvk),
                "put": self.operation(info, "put", f"replace{suffix}Scale", _SCALE, _WRITE_PARAMS, body=write_body,
                                      gvk=gvk),
                "patch": self.operation(info, "patch", f"patch{suffix}Scale", _SCALE, patch_params,
                                        body=_PATCH_TYPES, body_schema=_PATCH, gvk=gvk),
                "parameters": item_params,
            }
        return paths


def _to_v3(node: Any) -> Any:
    """A v2 definition in v3 form: refs under components, and a $ref with siblings wrapped in allOf."""
    if isinstance(node, list):
        return [_to_v3(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_v3(v) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_V2_REF):
        ref = _V3_REF + ref[len(_V2_REF):]
        out["$ref"] = ref
        if len(out) > 1:
            del out["$ref"]
            out["allOf"] = [{"$ref": ref}]
    return out


# --- the documents ----------------------------------------------------------------------------------


_INFO = {"title": "Kubernetes", "version": "v1.35.0"}


@cache
def openapi_v2_bytes() -> bytes:
    """The whole Swagger 2.0 document, serialized."""
    dialect = _Dialect(v3=False)
    paths: dict[str, Any] = {}
    for info in KINDS:
        paths.update(dialect.paths(info))
    doc = {
        "swagger": "2.0",
        "info": _INFO,
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(_definitions().items())),
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey",
                                                "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }
    return orjson.dumps(doc)


def openapi_v2() -> dict[str, Any]:
    return dict(orjson.loads(openapi_v2_bytes()))


@cache
def _doc_bytes(gv: str) -> bytes | None:
    infos = BY_GROUP_VERSION.get(gv)
    if not infos:
        return None
    dialect = _Dialect(v3=True)
    paths: dict[str, Any] = {}
    roots = [_STATUS, _DELETE_OPTIONS, _PATCH]
    for info in infos:
        paths.update(dialect.paths(info))
        package = _kind_package(info)
        roots += [f"{package}.{info.kind}", f"{package}.{info.kind}List"]
        if "scale" in info.subresources:
            roots.append(_SCALE)
    doc = {
        "openapi": "3.0.0",
        "info": _INFO,
        "paths": paths,
        "components": {"schemas": _to_v3(_closure(roots)),
                       "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication",
                                                           "type": "apiKey", "name": "authorization",
                                                           "in": "header"}}},
        "security": [{"BearerToken": []}],
    }
    return orjson.dumps(doc)


def openapi_v3_doc_bytes(group_version_path: str) -> bytes | None:
    """The serialized document of "api/v1" or "apis/apps/v1"; None when unknown."""
    path = group_version_path.strip("/")
    if path.startswith("api/"):
        return _doc_bytes(path[len("api/"):])
    if path.startswith("apis/"):
        return _doc_bytes(path[len("apis/"):])
    return None


def openapi_v3_doc(group_version_path: str) -> dict[str, Any] | None:
    raw = openapi_v3_doc_bytes(group_version_path)
    return orjson.loads(raw) if raw is not None else None


def _gv_path(gv: str) -> str:
    return f"apis/{gv}" if "/" in gv else f"api/{gv}"


@cache
def etag(raw: bytes) -> str:
    """kube-openapi's ETag: the SHA-512 of the served bytes in upper-case hex, quoted."""
    return '"' + hashlib.sha512(raw).hexdigest().upper() + '"'


def v3_hash(raw: bytes) -> str:
    """The `hash` of a v3 document's serverRelativeURL: its ETag unquoted (computed once per document)."""
    return etag(raw)[1:-1]


@cache
def openapi_v3_index() -> dict[str, Any]:
    paths = {}
    for gv in BY_GROUP_VERSION:
        raw = _doc_bytes(gv)
        paths[_gv_path(gv)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={v3_hash(raw or b'')}"}
    return {"paths": paths}
