"""`mkctl run --overrides`: kubectl's three override types applied to the generated Pod (merge is
RFC 7396, strategic merges containers by name with the strategies of our /openapi/v3, json is
RFC 6902), and the refusals."""

from __future__ import annotations

import json

import pytest

from minikube_py.apiserver.openapi import openapi_v3_doc
from minikube_py.cli.overrides import OverrideError, apply_override
from minikube_py.client.strategic import PatchMeta

Obj = dict


def generated() -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"run": "web"}, "name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {}}],
                     "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}, "status": {}}


def pod_meta() -> PatchMeta:
    doc = openapi_v3_doc("api/v1")
    assert doc is not None
    return PatchMeta.for_kind(doc, "", "v1", "Pod")


def test_merge_replaces_lists_whole_and_null_deletes() -> None:
    fragment = {"metadata": {"labels": {"tier": "front", "run": None}},
                "spec": {"containers": [{"name": "side", "image": "busybox"}], "nodeSelector": {"disk": "ssd"},
                         "dnsPolicy": None}}
    out = apply_override(generated(), json.dumps(fragment), "merge")
    assert out["metadata"]["labels"] == {"tier": "front"}
    assert out["spec"]["containers"] == [{"name": "side", "image": "busybox", "resources": {}}]
    assert out["spec"]["nodeSelector"] == {"disk": "ssd"} and "dnsPolicy" not in out["spec"]
    assert generated() == generated() and out["metadata"]["name"] == "web"


@pytest.mark.parametrize(("override_type", "fragment"), [
    ("merge", {"spec": {"restartPolicy": "Never"}}),
    ("strategic", {"spec": {"restartPolicy": "Never"}}),
    ("json", [{"op": "replace", "path": "/spec/restartPolicy", "value": "Never"}]),
])
def test_an_override_leaves_the_caller_s_object_alone(override_type: str, fragment: object) -> None:
    """The untouched subtrees (containers without resources, no status) must not be filled in on the input."""
    given = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "web", "image": "nginx"}], "restartPolicy": "Always"}}
    before = json.loads(json.dumps(given))
    out = apply_override(given, json.dumps(fragment), override_type, pod_meta())
    assert given == before
    assert out["spec"]["containers"][0]["resources"] == {} and out["status"] == {}
    assert out["spec"]["restartPolicy"] == "Never"


def test_strategic_merges_containers_by_name() -> None:
    fragment = {"spec": {"containers": [{"name": "web", "imagePullPolicy": "Never"},
                                        {"name": "side", "image": "busybox"}]}}
    out = apply_override(generated(), json.dumps(fragment), "strategic", pod_meta())
    assert out["spec"]["containers"] == [
        {"name": "web", "image": "nginx", "resources": {}, "imagePullPolicy": "Never"},
        {"name": "side", "image": "busybox", "resources": {}}]
    deleted = apply_override(generated(), json.dumps({"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}),
                             "strategic", pod_meta())
    assert deleted["spec"]["containers"] == []


def test_json_patch_operations() -> None:
    ops = [{"op": "add", "path": "/spec/containers/0/args", "value": ["-v"]},
           {"op": "replace", "path": "/spec/restartPolicy", "value": "Never"},
           {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"},
           {"op": "replace", "path": "/spec/containers/1/name", "value": "copy"},
           {"op": "remove", "path": "/status"},
           {"op": "test", "path": "/metadata/name", "value": "web"}]
    out = apply_override(generated(), json.dumps(ops), "json")
    assert out["spec"]["restartPolicy"] == "Never"
    assert out["status"] == {}  # removed, and written again as Go writes a Pod
    assert [(c["name"], c.get("args")) for c in out["spec"]["containers"]] == [("web", ["-v"]), ("copy", ["-v"])]


@pytest.mark.parametrize(("fragment", "kind", "message"), [
    ("{not json", "merge", "Invalid JSON Patch"),
    ('{"kind": "Service"}', "merge", "the override changes kind"),
    ('{"spec": {}}', "yaml", "invalid override type: yaml"),
    ('[{"op": "remove", "path": "/spec/nothing"}]', "json", "doc is missing path"),
    ('[{"op": "test", "path": "/metadata/name", "value": "x"}]', "json", "testing value /metadata/name failed"),
    ('{"op": "add"}', "json", "cannot unmarshal object"),
])
def test_bad_overrides_are_refused_with_a_message(fragment: str, kind: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        apply_override(generated(), fragment, kind)
