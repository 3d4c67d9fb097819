"""events.k8s.io/v1 and core/v1 Events as two views of one store, with the official Python client
(EventsV1Api, CoreV1Api) and kubectl 1.35 (`get events`, `get events.events.k8s.io`), on sqlite and
on etcd: a write through either group is listed, read and watched through the other."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.fixtures.server import RunningServer

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def api(apiserver: RunningServer) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


def kubectl(kubectl_bin: Path, apiserver: RunningServer, *args: str) -> str:
    proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(apiserver.kubeconfig), *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=123456)


def test_an_event_written_with_events_v1_is_read_with_core_v1_and_kubectl(
        api: client.ApiClient, kubectl_bin: Path, apiserver: RunningServer) -> None:
    name = f"ev-{uuid.uuid4().hex[:6]}"
    created = client.EventsV1Api(api).create_namespaced_event("default", client.EventsV1Event(
        metadata=client.V1ObjectMeta(name=name), event_time=_now(), reporting_controller="example.com/scaler",
        reporting_instance="scaler-1", action="Scaling", reason="Scaled", type="Normal", note="scaled web to 3",
        regarding=client.V1ObjectReference(kind="Deployment", namespace="default", name=name, api_version="apps/v1")))
    assert created.note == "scaled web to 3" and created.regarding.name == name
    core = client.CoreV1Api(api).read_namespaced_event(name, "default")
    assert (core.message, core.involved_object.kind, core.involved_object.name, core.reporting_component,
            core.reporting_instance, core.action) == ("scaled web to 3", "Deployment", name, "example.com/scaler",
                                                      "scaler-1", "Scaling")
    assert core.metadata.uid == created.metadata.uid
    listed = client.CoreV1Api(api).list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
    assert [e.metadata.name for e in listed.items] == [name]
    table = kubectl(kubectl_bin, apiserver, "get", "events", "--field-selector", f"involvedObject.name={name}")
    assert "Scaled" in table and f"deployment/{name}" in table and "scaled web to 3" in table
    as_new = json.loads(kubectl(kubectl_bin, apiserver, "get", "events.events.k8s.io", name, "-o", "json"))
    assert as_new["apiVersion"] == "events.k8s.io/v1" and as_new["note"] == "scaled web to 3"


def test_an_event_written_with_core_v1_is_listed_and_watched_with_events_v1(
        api: client.ApiClient, kubectl_bin: Path, apiserver: RunningServer) -> None:
    name = f"ev-{uuid.uuid4().hex[:6]}"
    # a namespace of its own: the Python client cannot read an events.k8s.io Event without eventTime
    # (core/v1 events written by others often have none; kube-apiserver shows them with null too)
    ns = name
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    events_api = client.EventsV1Api(api)
    rv = events_api.list_namespaced_event(ns, limit=1).metadata.resource_version
    seen: list[Any] = []

    def follow() -> None:
        w = watch.Watch()
        for item in w.stream(events_api.list_namespaced_event, ns, resource_version=rv,
                             field_selector=f"regarding.name={name}", timeout_seconds=20):
            seen.append(item)
            w.stop()

    watcher = threading.Thread(target=follow)
    watcher.start()
    stamp = _now()
    client.CoreV1Api(api).create_namespaced_event(ns, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name), involved_object=client.V1ObjectReference(
            kind="Pod", namespace=ns, name=name), reason="Pulled", message="pulled busybox", type="Normal",
        source=client.V1EventSource(component="kubelet", host="node-1"), first_timestamp=stamp,
        last_timestamp=stamp, count=3, event_time=stamp, reporting_component="kubelet",
        reporting_instance="node-1", action="Pulling"))
    watcher.join(timeout=30)
    assert [(e["type"], e["object"].metadata.name, e["object"].note) for e in seen] == [
        ("ADDED", name, "pulled busybox")]
    [item] = events_api.list_namespaced_event(ns, field_selector=f"regarding.name={name}").items
    assert (item.note, item.deprecated_count, item.deprecated_source.component, item.reporting_controller) == (
        "pulled busybox", 3, "kubelet", "kubelet")
    table = kubectl(kubectl_bin, apiserver, "get", "-n", ns, "events.events.k8s.io", "--field-selector",
                    f"regarding.name={name}")
    assert "Pulled" in table and f"pod/{name}" in table and "pulled busybox" in table
    events_api.delete_namespaced_event(name, ns)
    assert client.CoreV1Api(api).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={name}").items == []


def test_each_group_refuses_the_other_groups_field_labels(
        api: client.ApiClient, kubectl_bin: Path, apiserver: RunningServer) -> None:
    """kube-apiserver answers 400 for a field label the group does not register (not an empty list)."""
    with pytest.raises(client.ApiException) as info:
        client.EventsV1Api(api).list_namespaced_event("default", field_selector="involvedObject.name=x")
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == "field label not supported: involvedObject.name"
    with pytest.raises(client.ApiException) as info:
        client.CoreV1Api(api).list_namespaced_event("default", field_selector="regarding.name=x")
    assert info.value.status == 400
    proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(apiserver.kubeconfig), "get",
                           "events.events.k8s.io", "--field-selector", "involvedObject.name=x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "field label not supported: involvedObject.name" in proc.stderr, proc.stderr
