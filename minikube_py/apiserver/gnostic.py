"""The protobuf form of /openapi/v2: gnostic's `openapi.v2.Document`, encoded from the Swagger 2.0 JSON.

kubectl 1.20 to 1.26 ask for `/openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
and decode only that message (github.com/google/gnostic, openapiv2/OpenAPIv2.proto).  No maintained
Python build of those messages exists on PyPI, so this module describes the part of the schema the
document uses (field numbers from OpenAPIv2.proto) to the `protobuf` runtime and fills the messages
from the JSON document that openapi.py builds, the way gnostic's compiler maps JSON onto them:
maps become repeated (name, value) pairs in document order, `x-` keys become vendor extensions
holding their value as YAML text, a schema's `type` is a list, `items` a list of schemas, and
parameters and responses are oneofs.  Called by app.py (once: the bytes are cached).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from . import openapi

# What clients ask for, and what kube-openapi answers with ('@' is not valid in a media type, and Go's
# mime parser, which client-go runs on the response, rejects it).
ACCEPTED = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
CONTENT_TYPE = ACCEPTED[1]

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": _F.TYPE_STRING, "bool": _F.TYPE_BOOL, "double": _F.TYPE_DOUBLE, "int64": _F.TYPE_INT64}

# message -> [(number, field name, type, repeated, oneof)]; type is a scalar or a message of this table.
# Only the messages and fields this server's documents use; a decoder skips nothing it needs.
_MESSAGES: dict[str, list[tuple[int, str, str, bool, str]]] = {
    "Any": [(2, "yaml", "string", False, "")],  # 1: google.protobuf.Any, never set here
    "NamedAny": [(1, "name", "string", False, ""), (2, "value", "Any", False, "")],
    "Info": [(1, "title", "string", False, ""), (2, "version", "string", False, ""),
             (3, "description", "string", False, "")],
    "Document": [(1, "swagger", "string", False, ""), (2, "info", "Info", False, ""),
                 (3, "host", "string", False, ""), (4, "base_path", "string", False, ""),
                 (5, "schemes", "string", True, ""), (6, "consumes", "string", True, ""),
                 (7, "produces", "string", True, ""), (8, "paths", "Paths", False, ""),
                 (9, "definitions", "Definitions", False, ""),
                 (12, "security", "SecurityRequirement", True, ""),
                 (13, "security_definitions", "SecurityDefinitions", False, ""),
                 (16, "vendor_extension", "NamedAny", True, "")],
    "Paths": [(1, "vendor_extension", "NamedAny", True, ""), (2, "path", "NamedPathItem", True, "")],
    "NamedPathItem": [(1, "name", "string", False, ""), (2, "value", "PathItem", False, "")],
    "PathItem": [(1, "_ref", "string", False, ""), (2, "get", "Operation", False, ""),
                 (3, "put", "Operation", False, ""), (4, "post", "Operation", False, ""),
                 (5, "delete", "Operation", False, ""), (6, "options", "Operation", False, ""),
                 (7, "head", "Operation", False, ""), (8, "patch", "Operation", False, ""),
                 (9, "parameters", "ParametersItem", True, ""), (10, "vendor_extension", "NamedAny", True, "")],
    "Operation": [(1, "tags", "string", True, ""), (2, "summary", "string", False, ""),
                  (3, "description", "string", False, ""), (5, "operation_id", "string", False, ""),
                  (6, "produces", "string", True, ""), (7, "consumes", "string", True, ""),
                  (8, "parameters", "ParametersItem", True, ""), (9, "responses", "Responses", False, ""),
                  (10, "schemes", "string", True, ""), (11, "deprecated", "bool", False, ""),
                  (13, "vendor_extension", "NamedAny", True, "")],
    "ParametersItem": [(1, "parameter", "Parameter", False, "oneof"),
                       (2, "json_reference", "JsonReference", False, "oneof")],
    "JsonReference": [(1, "_ref", "string", False, ""), (2, "description", "string", False, "")],
    "Parameter": [(1, "body_parameter", "BodyParameter", False, "oneof"),
                  (2, "non_body_parameter", "NonBodyParameter", False, "oneof")],
    "BodyParameter": [(1, "description", "string", False, ""), (2, "name", "string", False, ""),
                      (3, "in", "string", False, ""), (4, "required", "bool", False, ""),
                      (5, "schema", "Schema", False, ""), (6, "vendor_extension", "NamedAny", True, "")],
    "NonBodyParameter": [(1, "header_parameter_sub_schema", "HeaderParameterSubSchema", False, "oneof"),
                         (3, "query_parameter_sub_schema", "QueryParameterSubSchema", False, "oneof"),
                         (4, "path_parameter_sub_schema", "PathParameterSubSchema", False, "oneof")],
    # Query (and header, form) parameters: required, in, description, name, allow_empty_value, type, ...
    "QueryParameterSubSchema": [(1, "required", "bool", False, ""), (2, "in", "string", False, ""),
                                (3, "description", "string", False, ""), (4, "name", "string", False, ""),
                                (5, "allow_empty_value", "bool", False, ""), (6, "type", "string", False, ""),
                                (7, "format", "string", False, ""), (20, "unique_items", "bool", False, ""),
                                (23, "vendor_extension", "NamedAny", True, "")],
    "HeaderParameterSubSchema": [(1, "required", "bool", False, ""), (2, "in", "string", False, ""),
                                 (3, "description", "string", False, ""), (4, "name", "string", False, ""),
                                 (5, "type", "string", False, ""), (6, "format", "string", False, ""),
                                 (19, "unique_items", "bool", False, ""),
                                 (22, "vendor_extension", "NamedAny", True, "")],
    "PathParameterSubSchema": [(1, "required", "bool", False, ""), (2, "in", "string", False, ""),
                               (3, "description", "string", False, ""), (4, "name", "string", False, ""),
                               (5, "type", "string", False, ""), (6, "format", "string", False, ""),
                               (19, "unique_items", "bool", False, ""),
                               (22, "vendor_extension", "NamedAny", True, "")],
    "Responses": [(1, "response_code", "NamedResponseValue", True, ""),
                  (2, "vendor_extension", "NamedAny", True, "")],
    "NamedResponseValue": [(1, "name", "string", False, ""), (2, "value", "ResponseValue", False, "")],
    "ResponseValue": [(1, "response", "Response", False, "oneof"),
                      (2, "json_reference", "JsonReference", False, "oneof")],
    "Response": [(1, "description", "string", False, ""), (2, "schema", "SchemaItem", False, ""),
                 (5, "vendor_extension", "NamedAny", True, "")],
    "SchemaItem": [(1, "schema", "Schema", False, "oneof")],
    "Definitions": [(1, "additional_properties", "NamedSchema", True, "")],
    "NamedSchema": [(1, "name", "string", False, ""), (2, "value", "Schema", False, "")],
    "Properties": [(1, "additional_properties", "NamedSchema", True, "")],
    "AdditionalPropertiesItem": [(1, "schema", "Schema", False, "oneof"), (2, "boolean", "bool", False, "oneof")],
    "TypeItem": [(1, "value", "string", True, "")],
    "ItemsItem": [(1, "schema", "Schema", True, "")],
    "Schema": [(1, "_ref", "string", False, ""), (2, "format", "string", False, ""),
               (3, "title", "string", False, ""), (4, "description", "string", False, ""),
               (5, "default", "Any", False, ""), (6, "multiple_of", "double", False, ""),
               (7, "maximum", "double", False, ""), (8, "exclusive_maximum", "bool", False, ""),
               (9, "minimum", "double", False, ""), (10, "exclusive_minimum", "bool", False, ""),
               (11, "max_length", "int64", False, ""), (12, "min_length", "int64", False, ""),
               (13, "pattern", "string", False, ""), (14, "max_items", "int64", False, ""),
               (15, "min_items", "int64", False, ""), (16, "unique_items", "bool", False, ""),
               (17, "max_properties", "int64", False, ""), (18, "min_properties", "int64", False, ""),
               (19, "required", "string", True, ""), (20, "enum", "Any", True, ""),
               (21, "additional_properties", "AdditionalPropertiesItem", False, ""),
               (22, "type", "TypeItem", False, ""), (23, "items", "ItemsItem", False, ""),
               (24, "all_of", "Schema", True, ""), (25, "properties", "Properties", False, ""),
               (26, "discriminator", "string", False, ""), (27, "read_only", "bool", False, ""),
               (30, "example", "Any", False, ""), (31, "vendor_extension", "NamedAny", True, "")],
    "SecurityDefinitions": [(1, "additional_properties", "NamedSecurityDefinitionsItem", True, "")],
    "NamedSecurityDefinitionsItem": [(1, "name", "string", False, ""),
                                     (2, "value", "SecurityDefinitionsItem", False, "")],
    "SecurityDefinitionsItem": [(2, "api_key_security", "ApiKeySecurity", False, "oneof")],
    "ApiKeySecurity": [(1, "type", "string", False, ""), (2, "name", "string", False, ""),
                       (3, "in", "string", False, ""), (4, "description", "string", False, ""),
                       (5, "vendor_extension", "NamedAny", True, "")],
    "SecurityRequirement": [(1, "additional_properties", "NamedStringArray", True, "")],
    "NamedStringArray": [(1, "name", "string", False, ""), (2, "value", "StringArray", False, "")],
    "StringArray": [(1, "value", "string", True, "")],
}


@cache
def _classes() -> dict[str, type[Message]]:
    """The message classes, from a file descriptor built out of `_MESSAGES` (package openapi.v2)."""
    file = descriptor_pb2.FileDescriptorProto(name="minikube_py/openapiv2.proto", package="openapi.v2",
                                              syntax="proto3")
    for name, fields in _MESSAGES.items():
        msg = file.message_type.add(name=name)
        if any(oneof for *_, oneof in fields):
            msg.oneof_decl.add(name="oneof")
        for number, fname, ftype, repeated, oneof in fields:
            f = msg.field.add(name=fname, number=number, json_name=fname,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if ftype in _SCALARS:
                f.type = _SCALARS[ftype]
            else:
                f.type, f.type_name = _F.TYPE_MESSAGE, f".openapi.v2.{ftype}"
            if oneof:
                f.oneof_index = 0
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"openapi.v2.{name}"))
            for name in _MESSAGES}


def _yaml(value: Any) -> str:
    """An extension's value as gnostic keeps it: YAML text (JSON is YAML; kube-openapi unmarshals it)."""
    return orjson.dumps(value).decode() + "\n"


def _extensions(msg: Any, node: dict[str, Any]) -> None:
    for key, value in node.items():
        if key.startswith("x-"):
            ext = msg.vendor_extension.add(name=key)
            ext.value.yaml = _yaml(value)


def _schema(msg: Any, node: dict[str, Any]) -> None:
    for key, value in node.items():
        if key == "$ref":
            msg._ref = value
        elif key in ("format", "title", "description", "pattern", "discriminator"):
            setattr(msg, key, value)
        elif key == "type":
            msg.type.value.extend(value if isinstance(value, list) else [value])
        elif key == "items":
            for item in value if isinstance(value, list) else [value]:
                _schema(msg.items.schema.add(), item)
        elif key == "properties":
            for name, sub in value.items():
                _schema(msg.properties.additional_properties.add(name=name).value, sub)
        elif key == "additionalProperties":
            if isinstance(value, bool):
                msg.additional_properties.boolean = value
            else:
                _schema(msg.additional_properties.schema, value)
        elif key == "required":
            msg.required.extend(value)
        elif key == "enum":
            for v in value:
                msg.enum.add().yaml = _yaml(v)
        elif key == "default":
            msg.default.yaml = _yaml(value)
        elif key == "allOf":
            for sub in value:
                _schema(msg.all_of.add(), sub)
        elif key in ("uniqueItems", "readOnly"):
            setattr(msg, "unique_items" if key == "uniqueItems" else "read_only", bool(value))
        elif key in ("minimum", "maximum"):
            setattr(msg, key, float(value))
        elif key in ("minLength", "maxLength", "minItems", "maxItems"):
            setattr(msg, key[:3] + "_" + key[3:].lower(), int(value))
    _extensions(msg, node)


_SUB_SCHEMAS = {"query": "query_parameter_sub_schema", "path": "path_parameter_sub_schema",
                "header": "header_parameter_sub_schema"}


def _parameter(msg: Any, node: dict[str, Any]) -> None:
    if "$ref" in node:
        msg.json_reference._ref = node["$ref"]
        return
    if node.get("in") == "body":
        body = msg.parameter.body_parameter
        body.name = node.get("name", "")
        setattr(body, "in", "body")
        body.required = bool(node.get("required"))
        if node.get("description"):
            body.description = node["description"]
        _schema(body.schema, node.get("schema") or {})
        _extensions(body, node)
        return
    sub = getattr(msg.parameter.non_body_parameter, _SUB_SCHEMAS[node["in"]])
    sub.name = node["name"]
    setattr(sub, "in", node["in"])
    sub.required = bool(node.get("required"))
    for key, attr in (("description", "description"), ("type", "type"), ("format", "format")):
        if node.get(key):
            setattr(sub, attr, node[key])
    sub.unique_items = bool(node.get("uniqueItems"))
    _extensions(sub, node)


def _operation(msg: Any, node: dict[str, Any]) -> None:
    msg.tags.extend(node.get("tags") or [])
    for key, attr in (("summary", "summary"), ("description", "description"), ("operationId", "operation_id")):
        if node.get(key):
            setattr(msg, attr, node[key])
    msg.produces.extend(node.get("produces") or [])
    msg.consumes.extend(node.get("consumes") or [])
    msg.schemes.extend(node.get("schemes") or [])
    for p in node.get("parameters") or []:
        _parameter(msg.parameters.add(), p)
    for code, resp in (node.get("responses") or {}).items():
        value = msg.responses.response_code.add(name=code).value
        if "$ref" in resp:
            value.json_reference._ref = resp["$ref"]
            continue
        value.response.description = resp.get("description", "")
        if "schema" in resp:
            _schema(value.response.schema.schema, resp["schema"])
        _extensions(value.response, resp)
    _extensions(msg, node)


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def encode(doc: dict[str, Any]) -> bytes:
    """A Swagger 2.0 document (JSON form) as a serialized gnostic openapi.v2.Document."""
    out: Any = _classes()["Document"]()
    out.swagger = doc.get("swagger", "2.0")
    info = doc.get("info") or {}
    out.info.title, out.info.version = info.get("title", ""), info.get("version", "")
    for key in ("schemes", "consumes", "produces"):
        getattr(out, key).extend(doc.get(key) or [])
    for path, item in (doc.get("paths") or {}).items():
        value = out.paths.path.add(name=path).value
        for method in _METHODS:
            if method in item:
                _operation(getattr(value, method), item[method])
        for p in item.get("parameters") or []:
            _parameter(value.parameters.add(), p)
        _extensions(value, item)
    for name, schema in (doc.get("definitions") or {}).items():
        _schema(out.definitions.additional_properties.add(name=name).value, schema)
    for name, sec in (doc.get("securityDefinitions") or {}).items():
        api_key = out.security_definitions.additional_properties.add(name=name).value.api_key_security
        for key in ("type", "name", "in", "description"):
            if key in sec:
                setattr(api_key, key, sec[key])
    for req in doc.get("security") or []:
        msg = out.security.add()
        for name, scopes in req.items():
            msg.additional_properties.add(name=name).value.value.extend(scopes)
    _extensions(out, doc)
    data: bytes = out.SerializeToString(deterministic=True)
    return data


def decode(data: bytes) -> Any:
    """The Document message of `data` (for tests and debugging)."""
    msg = _classes()["Document"]()
    msg.ParseFromString(data)
    return msg


@cache
def openapi_v2_protobuf() -> bytes:
    """This server's /openapi/v2 as protobuf (built once)."""
    return encode(openapi.openapi_v2())
