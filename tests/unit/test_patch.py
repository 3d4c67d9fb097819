"""Patch semantics: RFC 7386 merge patch, RFC 6902 JSON patch, strategic merge patch directives."""

from __future__ import annotations

import orjson
import pytest
from pydantic import Field

from minikube_py.api.meta import K8sModel, merge_by, patch_strategy
from minikube_py.apiserver.patch import (
    PatchError,
    PatchFailed,
    UnsupportedPatchType,
    apply_patch,
    json_patch,
    merge_patch,
    patch_meta,
    strategic_merge_patch,
)


class Port(K8sModel):
    container_port: int | None = None
    name: str | None = None


class Env(K8sModel):
    name: str | None = None
    value: str | None = None


class Container(K8sModel):
    name: str | None = None
    image: str | None = None
    ports: list[Port] | None = Field(None, json_schema_extra=merge_by("containerPort"))
    env: list[Env] | None = Field(None, json_schema_extra=merge_by("name"))
    args: list[str] | None = None


class Spec(K8sModel):
    containers: list[Container] | None = Field(None, json_schema_extra=merge_by("name"))
    finalizers: list[str] | None = Field(None, json_schema_extra=patch_strategy("merge"))
    replicas: int | None = None


class Obj(K8sModel):
    spec: Spec | None = None


BASE = {"spec": {"replicas": 1, "finalizers": ["a"], "containers": [
    {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"},
                                                                                  {"name": "B", "value": "2"}]},
    {"name": "side", "image": "busybox", "args": ["x", "y"]}]}}


def test_strategic_patch_changes_one_container_and_keeps_the_other() -> None:
    out = strategic_merge_patch(BASE, {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}, Obj)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("web", "nginx:2"), ("side", "busybox")]
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_strategic_patch_appends_new_keyed_elements() -> None:
    out = strategic_merge_patch(BASE, {"spec": {"containers": [{"name": "web", "env": [{"name": "C", "value": "3"}]}]}},
                                Obj)
    assert [e["name"] for e in out["spec"]["containers"][0]["env"]] == ["A", "B", "C"]


def test_strategic_patch_delete_directive_removes_element_by_key() -> None:
    patch = {"spec": {"containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}
    out = strategic_merge_patch(BASE, patch, Obj)
    assert out["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]


def test_strategic_patch_replaces_lists_without_strategy() -> None:
    out = strategic_merge_patch(BASE, {"spec": {"containers": [{"name": "side", "args": ["z"]}]}}, Obj)
    assert out["spec"]["containers"][1]["args"] == ["z"]


def test_strategic_patch_unions_primitive_lists_with_merge_strategy() -> None:
    out = strategic_merge_patch(BASE, {"spec": {"finalizers": ["b", "a"]}}, Obj)
    assert out["spec"]["finalizers"] == ["a", "b"]
    out = strategic_merge_patch(out, {"spec": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, Obj)
    assert out["spec"]["finalizers"] == ["b"]


def test_strategic_patch_null_deletes_and_replace_directive_replaces() -> None:
    out = strategic_merge_patch(BASE, {"spec": {"replicas": None}}, Obj)
    assert "replicas" not in out["spec"]
    out = strategic_merge_patch(BASE, {"spec": {"containers": [{"name": "only"}, {"$patch": "replace"}]}}, Obj)
    assert out["spec"]["containers"] == [{"name": "only"}]


def test_strategic_patch_set_element_order_reorders() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                      "containers": [{"name": "web", "image": "nginx:3"}]}}
    out = strategic_merge_patch(BASE, patch, Obj)
    assert [c["name"] for c in out["spec"]["containers"]] == ["side", "web"]


def test_strategic_patch_retain_keys_drops_unlisted() -> None:
    original = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(original, patch, None) == {"spec": {"strategy": {"type": "Recreate"}}}


def test_patch_meta_walks_nested_models() -> None:
    assert patch_meta(Obj, ["spec", "containers"]) == ("merge", "name")
    assert patch_meta(Obj, ["spec", "containers", "ports"]) == ("merge", "containerPort")
    assert patch_meta(Obj, ["spec", "replicas"]) == (None, None)


def test_merge_patch_null_removes_and_maps_merge() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 5}}) == {"b": {"c": 5, "d": 3}}
    assert merge_patch({"l": [1, 2]}, {"l": [3]}) == {"l": [3]}


def test_json_patch_ops_and_failed_test() -> None:
    doc = {"spec": {"replicas": 1}}
    assert json_patch(doc, [{"op": "replace", "path": "/spec/replicas", "value": 4}]) == {"spec": {"replicas": 4}}
    assert json_patch(doc, [{"op": "add", "path": "/spec/x", "value": [1]}])["spec"]["x"] == [1]
    with pytest.raises(PatchFailed):
        json_patch(doc, [{"op": "test", "path": "/spec/replicas", "value": 9}])
    with pytest.raises(PatchFailed):
        json_patch(doc, [{"op": "remove", "path": "/spec/missing"}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": 3}])


def test_apply_patch_dispatches_and_rejects_unknown_types() -> None:
    body = orjson.dumps({"spec": {"replicas": 2}})
    assert apply_patch("application/merge-patch+json", BASE, body, Obj)["spec"]["replicas"] == 2
    assert apply_patch("application/strategic-merge-patch+json; charset=utf-8", BASE, body, Obj)["spec"]["replicas"] == 2
    with pytest.raises(UnsupportedPatchType):
        apply_patch("application/xml", BASE, body, Obj)
    with pytest.raises(UnsupportedPatchType):
        apply_patch("application/apply-patch+yaml", BASE, body, Obj)
    with pytest.raises(PatchError):
        apply_patch("application/merge-patch+json", BASE, b"{nope", Obj)
