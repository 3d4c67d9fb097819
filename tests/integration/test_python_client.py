"""The official `kubernetes` Python client against a real server, on sqlite and on etcd."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.fixtures.server import RunningServer


@pytest.fixture(scope="module")
def api(apiserver: RunningServer) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


def _deployment(name: str) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.25")]),
            ),
        ),
    )


def test_lists_namespaces_and_default_ones_exist(api: client.ApiClient) -> None:
    names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= names


def test_creates_and_reads_back_with_defaults(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    name = f"py-{uuid.uuid4().hex[:6]}"
    created = apps.create_namespaced_deployment("default", _deployment(name))
    assert created.metadata.uid and created.metadata.resource_version
    got = apps.read_namespaced_deployment(name, "default")
    assert got.spec.strategy.type == "RollingUpdate"
    assert got.spec.strategy.rolling_update.max_surge == "25%"
    assert got.spec.revision_history_limit == 10
    assert got.spec.template.spec.restart_policy == "Always"


def test_patches_with_merge_patch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"py-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                                                    data={"a": "1"}))
    patched = core.patch_namespaced_config_map(name, "default", {"data": {"b": "2"}, "metadata": {"labels": {"x": "y"}}})
    assert patched.data == {"a": "1", "b": "2"}
    assert patched.metadata.labels == {"x": "y"}


def test_conflict_and_not_found_are_api_exceptions(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("does-not-exist", "default")
    assert missing.value.status == 404
    name = f"py-{uuid.uuid4().hex[:6]}"
    cm = core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
    cm.data = {"k": "v"}
    core.replace_namespaced_config_map(name, "default", cm)
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map(name, "default", cm)  # cm still carries the old resourceVersion
    assert stale.value.status == 409


def test_watch_streams_added_modified_deleted(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"py-{uuid.uuid4().hex[:6]}"
    start_rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, Any]] = []
    w = watch.Watch()
    done = threading.Event()

    def consume() -> None:
        for event in w.stream(core.list_namespaced_config_map, "default", resource_version=start_rv,
                              field_selector=f"metadata.name={name}", timeout_seconds=20):
            seen.append((event["type"], event["object"]))
            if event["type"] == "DELETED":
                break
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                                                    data={"v": "1"}))
    core.patch_namespaced_config_map(name, "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map(name, "default")
    assert done.wait(25), f"watch did not end; saw {[s[0] for s in seen]}"
    w.stop()
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert seen[1][1].data == {"v": "2"}
