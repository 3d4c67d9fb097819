"""/openapi/v3: the index and one OpenAPI 3.0 document per group-version, built from the kinds table.

Served by app.py.  What kubectl does with it (read from kubectl/client-go behaviour):
- `create/apply/replace/edit` first fetch `/openapi/v3`, then the group-version document named by
  its `serverRelativeURL`, and look for the PATCH operations whose `x-kubernetes-group-version-kind`
  names the object's kind.  Every such operation (subresources included) must list the query
  parameter `fieldValidation`; then kubectl skips client-side schema validation and sends
  `fieldValidation=Strict`, and this server enforces it (decode.py).  If the check fails kubectl
  falls back to `/openapi/v2`, which this server does not serve (404): client-side validation
  would then fail with "failed to download openapi".
- `apply` computes its strategic merge patch from the openapi schema only when the PATCH
  operation's request body lists `application/strategic-merge-patch+json`; otherwise it uses the
  Kubernetes types compiled into kubectl, which carry exactly Kubernetes' merge keys.  We leave
  that content type out on purpose (the server still accepts such patches) so apply's patches are
  computed from the real types rather than from our models.
- `explain` reads `components.schemas`, found by their `x-kubernetes-group-version-kind`.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import orjson

from ..api.kinds import BY_GROUP_VERSION, KindInfo

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_SCHEMA_PREFIX = "#/components/schemas/"
_DEFS_PREFIX = "#/$defs/"


def _gv_path(gv: str) -> str:
    return f"apis/{gv}" if "/" in gv else f"api/{gv}"


def _schema_package(info: KindInfo) -> str:
    group = info.group.split(".")[0] if info.group else "core"
    return f"io.k8s.api.{group}.{info.version}"


def _param(name: str, where: str = "query", *, required: bool = False, schema_type: str = "string",
           description: str = "") -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "schema": {"type": schema_type, "uniqueItems": True}}
    if required:
        p["required"] = True
    if description:
        p["description"] = description
    return p


_WRITE_PARAMS = [
    _param("dryRun", description="When present, indicates that modifications should not be persisted."),
    _param("fieldManager", description="A name associated with the actor or entity making these changes."),
    _param("fieldValidation", description="Ignore, Warn (the default) or Strict: what to do with unknown fields."),
]
_LIST_PARAMS = [_param(n) for n in ("labelSelector", "fieldSelector", "continue", "resourceVersion",
                                    "resourceVersionMatch")] + [
    _param("limit", schema_type="integer"), _param("timeoutSeconds", schema_type="integer"),
    _param("watch", schema_type="boolean"), _param("allowWatchBookmarks", schema_type="boolean"),
    _param("sendInitialEvents", schema_type="boolean")]
_DELETE_PARAMS = [_param("dryRun"), _param("gracePeriodSeconds", schema_type="integer"),
                  _param("propagationPolicy"), _param("orphanDependents", schema_type="boolean")]


def _gvk(group: str, version: str, kind: str) -> dict[str, Any]:
    return {"x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _SCHEMA_PREFIX + name}


def _json_content(schema: dict[str, Any], types: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    return {"content": {t: {"schema": schema} for t in types}}


def _op(info: KindInfo, action: str, op_id: str, schema: dict[str, Any], params: list[dict[str, Any]],
        *, body: tuple[str, ...] | None = None, gvk: tuple[str, str, str] | None = None) -> dict[str, Any]:
    g, v, k = gvk or (info.group, info.version, info.kind)
    op: dict[str, Any] = {
        "operationId": op_id,
        "parameters": params,
        "responses": {"200": {"description": "OK", **_json_content(schema)},
                      "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        **_gvk(g, v, k),
    }
    if body:
        op["requestBody"] = {"required": True, **_json_content(schema, body)}
    if action == "post":
        op["responses"]["201"] = {"description": "Created", **_json_content(schema)}
    return op


def _paths(info: KindInfo, kind_schema: str, list_schema: str) -> dict[str, Any]:
    base = f"/{_gv_path(info.api_version)}"
    ns_param = [_param("namespace", "path", required=True)] if info.namespaced else []
    name_param = [_param("name", "path", required=True)]
    coll = f"{base}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{base}/{info.plural}"
    item = f"{coll}/{{name}}"
    obj, lst = _ref(kind_schema), _ref(list_schema)
    suffix = info.kind + ("Namespaced" if info.namespaced else "")
    paths: dict[str, Any] = {
        coll: {
            "parameters": ns_param,
            "get": _op(info, "list", f"list{suffix}", lst, _LIST_PARAMS),
            "post": _op(info, "post", f"create{suffix}", obj, _WRITE_PARAMS, body=("application/json",
                                                                                      "application/yaml")),
            "delete": _op(info, "deletecollection", f"deleteCollection{suffix}", _ref("Status"),
                          _LIST_PARAMS + _DELETE_PARAMS),
        },
        item: {
            "parameters": ns_param + name_param,
            "get": _op(info, "get", f"read{suffix}", obj, []),
            "put": _op(info, "put", f"replace{suffix}", obj, _WRITE_PARAMS, body=("application/json",)),
            "patch": _op(info, "patch", f"patch{suffix}", obj, _WRITE_PARAMS + [_param("force", schema_type="boolean")],
                         body=_PATCH_TYPES),
            "delete": _op(info, "delete", f"delete{suffix}", obj, _DELETE_PARAMS),
        },
    }
    if info.namespaced:
        paths[f"{base}/{info.plural}"] = {"get": _op(info, "list", f"list{info.kind}ForAllNamespaces", lst,
                                                     _LIST_PARAMS)}
    if "status" in info.subresources:
        paths[f"{item}/status"] = {
            "parameters": ns_param + name_param,
            "get": _op(info, "get", f"read{suffix}Status", obj, []),
            "put": _op(info, "put", f"replace{suffix}Status", obj, _WRITE_PARAMS, body=("application/json",)),
            "patch": _op(info, "patch", f"patch{suffix}Status", obj, _WRITE_PARAMS, body=_PATCH_TYPES),
        }
    if "scale" in info.subresources:
        scale, gvk = _ref("io.k8s.api.autoscaling.v1.Scale"), ("autoscaling", "v1", "Scale")
        paths[f"{item}/scale"] = {
            "parameters": ns_param + name_param,
            "get": _op(info, "get", f"read{suffix}Scale", scale, [], gvk=gvk),
            "put": _op(info, "put", f"replace{suffix}Scale", scale, _WRITE_PARAMS, body=("application/json",), gvk=gvk),
            "patch": _op(info, "patch", f"patch{suffix}Scale", scale, _WRITE_PARAMS, body=_PATCH_TYPES, gvk=gvk),
        }
    return paths


def _rename_refs(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(_DEFS_PREFIX):
                out[k] = _SCHEMA_PREFIX + names.get(v[len(_DEFS_PREFIX):], v[len(_DEFS_PREFIX):])
            else:
                out[k] = _rename_refs(v, names)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, names) for v in node]
    return node


_META_NAMES = {"ObjectMeta", "ListMeta", "OwnerReference", "ManagedFieldsEntry", "LabelSelector",
               "LabelSelectorRequirement"}


def _schemas(infos: list[KindInfo]) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Status": {"type": "object", "properties": {"kind": {"type": "string"}, "code": {"type": "integer"},
                                                    "message": {"type": "string"}, "reason": {"type": "string"}}},
        "io.k8s.api.autoscaling.v1.Scale": {
            "type": "object", **{"x-kubernetes-group-version-kind": [{"group": "autoscaling", "version": "v1",
                                                                      "kind": "Scale"}]},
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": {"type": "object"},
                           "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                           "status": {"type": "object"}}},
    }
    for info in infos:
        raw = info.model.model_json_schema(by_alias=True, ref_template=_DEFS_PREFIX + "{model}")
        defs = raw.pop("$defs", {})
        package = _schema_package(info)
        names = {d: (f"io.k8s.apimachinery.pkg.apis.meta.v1.{d}" if d in _META_NAMES else f"{package}.{d}")
                 for d in defs}
        for d, schema in defs.items():
            schemas.setdefault(names[d], _rename_refs(schema, names))
        top = _rename_refs(raw, names)
        top["x-kubernetes-group-version-kind"] = [{"group": info.group, "version": info.version, "kind": info.kind}]
        schemas[f"{package}.{info.kind}"] = top
        schemas[f"{package}.{info.kind}List"] = {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": info.group, "version": info.version,
                                                 "kind": f"{info.kind}List"}],
            "required": ["items"],
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": _ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"),
                           "items": {"type": "array", "items": _ref(f"{package}.{info.kind}")}},
        }
    schemas.setdefault("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta", {"type": "object"})
    return schemas


@cache
def _doc_bytes(gv: str) -> bytes | None:
    infos = BY_GROUP_VERSION.get(gv)
    if not infos:
        return None
    paths: dict[str, Any] = {}
    for info in infos:
        package = _schema_package(info)
        paths.update(_paths(info, f"{package}.{info.kind}", f"{package}.{info.kind}List"))
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "minikube-py", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": _schemas(infos),
                       "securitySchemes": {"BearerToken": {"type": "apiKey", "name": "authorization",
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


@cache
def openapi_v3_index() -> dict[str, Any]:
    paths = {}
    for gv in BY_GROUP_VERSION:
        raw = _doc_bytes(gv)
        digest = hashlib.sha512(raw or b"").hexdigest()[:64].upper()
        paths[_gv_path(gv)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={digest}"}
    return {"paths": paths}


def openapi_v2() -> dict[str, Any] | None:
    """Not served: kubectl uses v3 (see the module docstring)."""
    return None
