"""kube-apiserver's answers where clients look closely (issue 9): DELETE bodies, trailing slashes,
the 415 for server-side apply, and the StatefulSet template kube does not validate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from minikube_py.api.kinds import KINDS
from minikube_py.apiserver.app import make_app
from minikube_py.store import open_store


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    store = open_store("sqlite", tmp_path)
    client: TestClient = await aiohttp_client(make_app(store))
    yield client
    await store.close()


NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"
CONTAINER = {"name": "c", "image": "nginx"}


def _deploy(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [CONTAINER]}}}}


def _web_statefulset(name: str) -> dict[str, Any]:
    """The docs' web.yaml shape: the container mounts a claim template, not a pod volume."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"serviceName": "nginx", "replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [dict(CONTAINER, volumeMounts=[
                                      {"name": "www", "mountPath": "/usr/share/nginx/html"}])]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


# --- item 6: DELETE answers ---------------------------------------------------------------------

def test_return_deleted_object_is_set_on_the_kinds_kube_sets_it_on() -> None:
    returning = {k.kind for k in KINDS if k.return_deleted_object}
    assert returning == {"Pod", "Namespace", "Service", "PersistentVolume", "PersistentVolumeClaim", "StorageClass",
                         "ServiceAccount"}


async def test_delete_of_a_kind_without_return_deleted_object_answers_a_status(api: TestClient) -> None:
    created = await (await api.post(f"{APPS}/deployments", json=_deploy("gone"))).json()
    resp = await api.delete(f"{APPS}/deployments/gone")
    assert resp.status == 200
    body = await resp.json()
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": "gone", "group": "apps", "kind": "deployments",
                                "uid": created["metadata"]["uid"]}}
    await api.post(f"{NS}/configmaps", json={"metadata": {"name": "cm"}})
    details = (await (await api.delete(f"{NS}/configmaps/cm")).json())["details"]
    assert "group" not in details and details["kind"] == "configmaps"  # the core group is left out


async def test_delete_of_a_kind_with_return_deleted_object_answers_the_object(api: TestClient) -> None:
    await api.post(f"{NS}/services", json={"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}})
    resp = await api.delete(f"{NS}/services/svc")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "Service" and body["metadata"]["name"] == "svc"


async def test_a_deletion_held_by_finalizers_answers_the_object_with_200(api: TestClient) -> None:
    await api.post(f"{NS}/configmaps", json={"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    resp = await api.delete(f"{NS}/configmaps/held")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "ConfigMap" and body["metadata"]["deletionTimestamp"]


async def test_a_pending_deletion_after_orphan_dependents_false_is_202(api: TestClient) -> None:
    await api.post(f"{NS}/configmaps", json={"metadata": {"name": "held", "finalizers": ["example.com/x"]}})
    resp = await api.delete(f"{NS}/configmaps/held", json={"orphanDependents": False})
    assert resp.status == 202
    assert (await resp.json())["kind"] == "ConfigMap"


async def test_dry_run_delete_answers_as_a_real_one_and_keeps_the_object(api: TestClient) -> None:
    await api.post(f"{APPS}/deployments", json=_deploy("dry"))
    body = await (await api.delete(f"{APPS}/deployments/dry?dryRun=All")).json()
    assert body["kind"] == "Status" and body["details"]["name"] == "dry"
    assert (await api.get(f"{APPS}/deployments/dry")).status == 200


async def test_delete_collection_answers_the_list_it_read(api: TestClient) -> None:
    for name in ("a", "b"):
        await api.post(f"{NS}/configmaps", json={"metadata": {"name": name, "labels": {"x": "1"}}})
    resp = await api.delete(f"{NS}/configmaps?labelSelector=x%3D1")
    assert resp.status == 200
    body = await resp.json()
    assert body["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert (await (await api.get(f"{NS}/configmaps?labelSelector=x%3D1")).json())["items"] == []


# --- item 7: trailing slashes -------------------------------------------------------------------

@pytest.mark.parametrize(("path", "kind"), [("/version/", None), ("/api/", "APIVersions"),
                                            ("/api/v1/", "APIResourceList"), ("/apis/", "APIGroupList"),
                                            ("/apis/apps/", "APIGroup"), ("/apis/apps/v1/", "APIResourceList")])
async def test_discovery_and_version_are_served_with_a_trailing_slash(api: TestClient, path: str,
                                                                      kind: str | None) -> None:
    with_slash = await api.get(path)
    assert with_slash.status == 200
    body = await with_slash.json()
    assert body == await (await api.get(path.rstrip("/"))).json()
    assert body.get("kind") == kind
    if kind is None:
        assert body["gitVersion"].startswith("v1.")


async def test_an_unknown_group_with_a_trailing_slash_is_still_404(api: TestClient) -> None:
    assert (await api.get("/apis/nope.example.com/")).status == 404


# --- item 12: server-side apply -----------------------------------------------------------------

@pytest.mark.parametrize("exists", [False, True])
async def test_apply_patch_is_one_415_whether_or_not_the_object_exists(api: TestClient, exists: bool) -> None:
    if exists:
        await api.post(f"{APPS}/deployments", json=_deploy("app"))
    resp = await api.patch(f"{APPS}/deployments/app?fieldManager=kubectl", data=b"{}",
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert resp.status == 415
    status = await resp.json()
    assert status["reason"] == "UnsupportedMediaType" and status["code"] == 415
    assert status["message"] == ("the body of the request was in an unknown format - accepted media types include: "
                                 "application/json-patch+json, application/merge-patch+json, "
                                 "application/strategic-merge-patch+json")


async def test_apply_patch_on_a_missing_namespace_or_scale_is_415_too(api: TestClient) -> None:
    ctype = {"Content-Type": "application/apply-patch+yaml"}
    resp = await api.patch("/apis/apps/v1/namespaces/nowhere/deployments/app", data=b"{}", headers=ctype)
    assert resp.status == 415
    resp = await api.patch(f"{APPS}/deployments/app/scale", data=b"{}", headers=ctype)
    assert resp.status == 415


# --- item 3: StatefulSet templates ---------------------------------------------------------------

async def test_a_statefulset_mounting_its_claim_template_is_accepted(api: TestClient) -> None:
    resp = await api.post(f"{APPS}/statefulsets", json=_web_statefulset("web"))
    assert resp.status == 201, await resp.text()


async def test_a_statefulset_s_claim_templates_are_defaulted_as_claims(api: TestClient) -> None:
    """kube runs a claim's defaults over each template (volumeMode, status.phase Pending); kubectl's
    apply re-sends the atomic list because of it, so a second apply is `configured` there as here."""
    resp = await api.post(f"{APPS}/statefulsets", json=_web_statefulset("defaults"))
    assert resp.status == 201, await resp.text()
    [template] = (await resp.json())["spec"]["volumeClaimTemplates"]
    assert template["spec"]["volumeMode"] == "Filesystem"
    assert template["status"] == {"phase": "Pending"}
    sts = _web_statefulset("kept")
    sts["spec"]["volumeClaimTemplates"][0]["status"] = {"phase": "Bound"}
    resp = await api.post(f"{APPS}/statefulsets", json=sts)
    assert (await resp.json())["spec"]["volumeClaimTemplates"][0]["status"] == {"phase": "Bound"}


async def test_a_statefulset_template_pod_spec_is_not_validated_as_kube_leaves_it(api: TestClient) -> None:
    sts = _web_statefulset("loose")
    sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "nothing"
    assert (await api.post(f"{APPS}/statefulsets", json=sts)).status == 201


async def test_a_statefulset_still_gets_kube_s_own_template_checks(api: TestClient) -> None:
    sts = _web_statefulset("strict")
    tmpl = sts["spec"]["template"]
    tmpl["spec"]["activeDeadlineSeconds"] = 5
    tmpl["spec"]["restartPolicy"] = "Never"
    tmpl["metadata"]["labels"]["bad key!"] = "x"
    resp = await api.post(f"{APPS}/statefulsets", json=sts)
    assert resp.status == 422
    fields = {c["field"] for c in (await resp.json())["details"]["causes"]}
    assert {"spec.template.spec.activeDeadlineSeconds", "spec.template.spec.restartPolicy",
            "spec.template.labels"} <= fields


async def test_a_statefulset_without_a_template_is_refused_as_kube_refuses_it(api: TestClient) -> None:
    """kube's template is a struct, never nil: an absent one is empty, and the selector cannot match it."""
    sts = _web_statefulset("bare")
    del sts["spec"]["template"]
    resp = await api.post(f"{APPS}/statefulsets", json=sts)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
         "message": "Invalid value: \"map[string]string(nil)\": `selector` does not match template `labels`"}]


async def test_an_empty_statefulset_selector_is_refused_in_kube_s_words(api: TestClient) -> None:
    sts = _web_statefulset("empty")
    sts["spec"]["selector"] = {}
    resp = await api.post(f"{APPS}/statefulsets", json=sts)
    assert resp.status == 422
    details = [c["message"] for c in (await resp.json())["details"]["causes"] if c["field"] == "spec.selector"]
    assert details == ['Invalid value: "empty": empty selector is invalid for statefulset']


async def test_a_deployment_template_mount_of_a_missing_volume_is_still_rejected(api: TestClient) -> None:
    dep = _deploy("d")
    dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/w"}]
    resp = await api.post(f"{APPS}/deployments", json=dep)
    assert resp.status == 422
    assert (await resp.json())["details"]["causes"][0]["field"] == \
        "spec.template.spec.containers[0].volumeMounts[0].name"


# --- deprecated kinds: v1 Endpoints (KEP-4974) -----------------------------------------------------

ENDPOINTS_WARNING = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"'


async def test_every_answer_about_v1_endpoints_carries_kube_s_deprecation_warning(api: TestClient) -> None:
    body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "legacy"},
            "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]}
    answers = [await api.post(f"{NS}/endpoints", json=body), await api.get(f"{NS}/endpoints/legacy"),
               await api.get(f"{NS}/endpoints"), await api.get("/api/v1/endpoints"),
               await api.get(f"{NS}/endpoints/missing"),
               await api.get(f"{NS}/endpoints?watch=true&timeoutSeconds=1"),
               await api.delete(f"{NS}/endpoints/legacy")]
    assert [r.status for r in answers] == [201, 200, 200, 200, 404, 200, 200]
    for resp in answers:
        assert resp.headers.getall("Warning") == [ENDPOINTS_WARNING], resp.url
    slices = await api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices")
    services = await api.get(f"{NS}/services")
    assert "Warning" not in slices.headers and "Warning" not in services.headers
