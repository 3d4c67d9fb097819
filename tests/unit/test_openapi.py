"""The OpenAPI documents (v2 JSON, v2 gnostic protobuf, v3) as kubectl's parsers read them.

kube-openapi rejects a v2 document with a dangling reference or a definition of several types, and
kubectl's checks look for `fieldValidation` on PATCH operations found by their
`x-kubernetes-group-version-kind`; these tests check those properties over every kind, and the
protobuf encoding against the field numbers of gnostic's OpenAPIv2.proto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from minikube_py.api.kinds import KINDS
from minikube_py.apiserver import gnostic, openapi
from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.auth import User
from minikube_py.store import open_store

TOKEN = "test-token"
PB = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def v2() -> dict[str, Any]:
    return openapi.openapi_v2()


def walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def patch_ops(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["patch"]) for path, item in doc["paths"].items() if "patch" in item]


def test_every_kind_has_a_definition_found_by_its_gvk() -> None:
    defs = v2()["definitions"]
    gvks = {(g["group"], g["version"], g["kind"]) for d in defs.values()
            for g in d.get("x-kubernetes-group-version-kind", [])}
    for info in KINDS:
        assert (info.group, info.version, info.kind) in gvks, info.kind
        assert (info.group, info.version, info.kind + "List") in gvks, info.kind


def test_v2_references_all_resolve_and_no_definition_has_several_types() -> None:
    doc = v2()
    for node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/definitions/"), ref
            assert ref[len("#/definitions/"):] in doc["definitions"], ref
    for node in walk(list(doc["definitions"].values())):
        assert "anyOf" not in node and "oneOf" not in node and "title" not in node
        assert not isinstance(node.get("type"), list)
        assert not isinstance(node.get("additionalProperties"), bool)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_every_patch_operation_lists_field_validation_and_no_strategic_merge(version: str) -> None:
    docs = [v2()] if version == "v2" else [openapi.openapi_v3_doc(p) for p in openapi.openapi_v3_index()["paths"]]
    seen = set()
    for doc in docs:
        assert doc is not None
        for path, op in patch_ops(doc):
            gvk = op["x-kubernetes-group-version-kind"]
            seen.add((gvk["group"], gvk["version"], gvk["kind"]))
            names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
            assert "fieldValidation" in names, path
            consumes = op["consumes"] if version == "v2" else list(op["requestBody"]["content"])
            assert "application/strategic-merge-patch+json" not in consumes, path
            assert "application/merge-patch+json" in consumes
    assert {(i.group, i.version, i.kind) for i in KINDS} <= seen


def test_full_nested_schemas_with_descriptions() -> None:
    defs = v2()["definitions"]
    spec = defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
    strategy_ref = spec["strategy"]["$ref"].rsplit("/", 1)[-1]
    strategy = defs[strategy_ref]
    assert strategy_ref == "io.k8s.api.apps.v1.DeploymentStrategy"
    assert set(strategy["properties"]) == {"type", "rollingUpdate"}
    assert strategy["description"] and strategy["properties"]["type"]["description"]
    assert spec["strategy"]["x-kubernetes-patch-strategy"] == "retainKeys"
    container = defs["io.k8s.api.core.v1.Container"]["properties"]
    assert container["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert container["resources"]["$ref"].endswith("io.k8s.api.core.v1.ResourceRequirements")
    port = defs["io.k8s.api.core.v1.ServicePort"]["properties"]
    assert port["targetPort"]["$ref"].endswith("io.k8s.apimachinery.pkg.util.intstr.IntOrString")
    assert port["port"] == {"type": "integer", "format": "int32", "description": port["port"]["description"]}
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]
    assert defs["io.k8s.api.core.v1.Container"]["required"] == ["name"]
    meta = defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert "labels" in meta["labels"]["description"] or "selector" in meta["labels"]["description"]
    assert meta["labels"]["additionalProperties"] == {"type": "string"}


def test_v3_uses_components_and_wraps_described_refs_in_all_of() -> None:
    doc = openapi.openapi_v3_doc("apis/apps/v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    assert strategy["description"]
    for node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[-1] in schemas, ref


def _tags(data: bytes) -> set[int]:
    """The field numbers at the top level of a protobuf message."""
    tags, pos = set(), 0
    while pos < len(data):
        key = shift = 0
        while True:
            b = data[pos]
            pos += 1
            key |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        number, wire = key >> 3, key & 7
        tags.add(number)
        if wire == 2:
            length = shift = 0
            while True:
                b = data[pos]
                pos += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    break
            pos += length
        elif wire == 0:
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return tags


def test_protobuf_document_round_trips_with_gnostic_field_numbers() -> None:
    doc = v2()
    data = gnostic.openapi_v2_protobuf()
    # OpenAPIv2.proto: Document.swagger = 1, info = 2, paths = 8, definitions = 9, security = 12,
    # security_definitions = 13.
    assert _tags(data) == {1, 2, 8, 9, 12, 13}
    msg = gnostic.decode(data)
    assert msg.swagger == "2.0"
    assert [p.name for p in msg.paths.path] == list(doc["paths"])
    assert [d.name for d in msg.definitions.additional_properties] == list(doc["definitions"])
    deploy = next(d.value for d in msg.definitions.additional_properties if d.name == "io.k8s.api.apps.v1.Deployment")
    gvk = next(e for e in deploy.vendor_extension if e.name == "x-kubernetes-group-version-kind")
    assert yaml.safe_load(gvk.value.yaml) == [{"group": "apps", "version": "v1", "kind": "Deployment"}]
    spec = next(p.value for p in deploy.properties.additional_properties if p.name == "spec")
    assert spec._ref == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    # Schema: _ref = 1, description = 4, properties = 25, vendor_extension = 31.
    assert _tags(deploy.SerializeToString()) == {4, 22, 25, 31}
    item = next(p.value for p in msg.paths.path if p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    queries = [p.parameter.non_body_parameter.query_parameter_sub_schema.name for p in item.patch.parameters]
    assert "fieldValidation" in queries
    body = item.patch.parameters[0].parameter.body_parameter
    assert (body.name, getattr(body, "in"), body.required) == ("body", "body", True)
    assert "application/strategic-merge-patch+json" not in item.patch.consumes
    code = next(r for r in item.patch.responses.response_code if r.name == "200")
    assert code.value.response.schema.schema._ref == "#/definitions/io.k8s.api.apps.v1.Deployment"


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> Any:
    store = open_store("sqlite", tmp_path)
    app = make_app(store, tokens={TOKEN: User("admin", "1", ("system:masters",))})
    client: TestClient = await aiohttp_client(app, headers={"Authorization": f"Bearer {TOKEN}"})
    yield client
    await store.close()


async def test_served_as_json_or_protobuf_with_etags(api: TestClient) -> None:
    resp = await api.get("/openapi/v2")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert json.loads(await resp.read())["swagger"] == "2.0"
    resp = await api.get("/openapi/v2", headers={"Accept": f"{PB}, application/json"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    body = await resp.read()
    assert gnostic.decode(body).swagger == "2.0"
    etag = resp.headers["ETag"]
    again = await api.get("/openapi/v2", headers={"Accept": PB, "If-None-Match": etag})
    assert again.status == 304 and not await again.read()
    old = await api.get("/swagger-2.0.0.pb-v1")
    assert old.status == 200 and await old.read() == body


async def test_v3_document_by_hash_is_immutable(api: TestClient) -> None:
    index = await (await api.get("/openapi/v3")).json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    resp = await api.get(url)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "public, immutable"
    stale = await api.get("/openapi/v3/apis/apps/v1?hash=0")
    assert stale.headers["Cache-Control"] != "public, immutable"
    missing = await api.get("/openapi/v3/apis/nope/v1")
    assert missing.status == 404 and (await missing.json())["reason"] == "NotFound"
