"""What real clients found unlike Kubernetes (issue 9), checked with those clients against a whole
control plane: the official Python client's typed answers (VersionApi, delete calls), kubectl
1.35's delete output, its server-side apply refusal, and the docs' StatefulSet (web.yaml) shape.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.fixtures.server import RunningCluster
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.kubectl

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, cluster: RunningCluster) -> Run:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(cluster.server.kubeconfig), *args],
                              input=input, capture_output=True, text=True, timeout=90)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc
    return run


@pytest.fixture(scope="module")
def api(cluster: RunningCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.server.kubeconfig))
    yield api_client
    api_client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _deployment(name: str) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.25")]))))


def test_python_client_version_api_reads_version_with_its_trailing_slash(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert isinstance(info, client.VersionInfo)
    assert info.git_version.startswith("v1.") and info.major == "1"


def _status_details(answer: Any) -> tuple[str, str | None, str, str | None]:
    """(status, details name/group/kind/uid) from a delete's answer: a V1Status where the client
    version types it so (kubernetes 35), the plain dict where it declares `object` (36 and later)."""
    if isinstance(answer, client.V1Status):
        d = answer.details
        return answer.status, d.name, d.group, d.kind, d.uid  # type: ignore[return-value]
    assert isinstance(answer, dict) and answer["kind"] == "Status", answer
    d = answer["details"]
    return answer["status"], d["name"], d.get("group"), d["kind"], d.get("uid")  # type: ignore[return-value]


def test_python_client_delete_deployment_answers_a_status(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    name = unique("del")
    uid = apps.create_namespaced_deployment("default", _deployment(name)).metadata.uid
    answer = apps.delete_namespaced_deployment(name, "default")
    assert _status_details(answer) == ("Success", name, "apps", "deployments", uid)


def test_python_client_delete_configmap_and_service_answer_as_kube_does(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = unique("del")
    uid = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name))).metadata.uid
    assert _status_details(core.delete_namespaced_config_map(name, "default")) == \
        ("Success", name, None, "configmaps", uid)
    core.create_namespaced_service("default", client.V1Service(
        metadata=client.V1ObjectMeta(name=name), spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])))
    svc = core.delete_namespaced_service(name, "default")  # kube's service registry returns the object
    assert isinstance(svc, client.V1Service) and svc.metadata.name == name


def test_python_client_delete_pod_returns_the_pod(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = unique("del")
    core.create_namespaced_pod("default", client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")])))
    pod = core.delete_namespaced_pod(name, "default")
    assert isinstance(pod, client.V1Pod) and pod.metadata.name == name


def test_kubectl_delete_prints_as_before_for_status_and_object_answers(kubectl: Run) -> None:
    name = unique("del")
    kubectl("create", "configmap", name)
    kubectl("create", "service", "clusterip", name, "--tcp=80:80")
    out = kubectl("delete", "configmap", name).stdout
    assert out == f'configmap "{name}" deleted from default namespace\n' or out == f'configmap "{name}" deleted\n'
    out = kubectl("delete", "service", name).stdout
    assert out.startswith(f'service "{name}" deleted')
    assert kubectl("get", "configmap", name, check=False).returncode != 0


def test_kubectl_server_side_apply_gets_one_clear_415_new_or_existing(kubectl: Run) -> None:
    name = unique("ssa")
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
    fresh = kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    kubectl("create", "-f", "-", input=manifest)
    existing = kubectl("apply", "--server-side", "-f", "-", input=manifest, check=False)
    for proc in (fresh, existing):
        assert proc.returncode != 0
        # kubectl knows this 415 (IsUnsupportedMediaType) and says so in its own words
        assert "Server-side apply not available on the server" in proc.stderr, proc.stderr
        assert "not found" not in proc.stderr
        assert "the body of the request was in an unknown format - accepted media types include: " \
               "application/json-patch+json, application/merge-patch+json, " \
               "application/strategic-merge-patch+json" in proc.stderr


WEB_YAML = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: {name}
      labels:
        app: {name}
    spec:
      ports:
      - port: 80
        name: web
      clusterIP: None
      selector:
        app: {name}
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: {name}
    spec:
      selector:
        matchLabels:
          app: {name}
      serviceName: "{name}"
      replicas: 2
      minReadySeconds: 1
      template:
        metadata:
          labels:
            app: {name}
        spec:
          terminationGracePeriodSeconds: 10
          containers:
          - name: nginx
            image: registry.k8s.io/nginx-slim:0.24
            ports:
            - containerPort: 80
              name: web
            volumeMounts:
            - name: www
              mountPath: /usr/share/nginx/html
      volumeClaimTemplates:
      - metadata:
          name: www
        spec:
          accessModes: [ "ReadWriteOnce" ]
          resources:
            requests:
              storage: 1Gi
    """)


def test_docs_web_statefulset_applies_and_its_pods_mount_their_claims(kubectl: Run, tmp_path: Path) -> None:
    name = unique("web")
    path = tmp_path / "web.yaml"
    path.write_text(WEB_YAML.format(name=name))
    out = kubectl("apply", "-f", str(path)).stdout
    assert f"statefulset.apps/{name} created" in out
    kubectl("rollout", "status", f"statefulset/{name}", "--timeout=60s")
    pods = sorted(json.loads(kubectl("get", "pods", "-l", f"app={name}", "-o", "json").stdout)["items"],
                  key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in pods] == [f"{name}-0", f"{name}-1"]
    for pod in pods:
        claim = {v["name"]: v.get("persistentVolumeClaim") for v in pod["spec"]["volumes"]}["www"]
        assert claim == {"claimName": f"www-{pod['metadata']['name']}"}
    claims = json.loads(kubectl("get", "pvc", "-l", f"app={name}", "-o", "json").stdout)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == [f"www-{name}-0", f"www-{name}-1"]


def test_a_statefulset_mounting_nothing_it_has_fails_at_pod_creation(kubectl: Run) -> None:
    """kube-apiserver accepts the set; its controller's pod create is refused (FailedCreate)."""
    name = unique("bad")
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
           "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "volumeMounts": [
                                     {"name": "missing", "mountPath": "/data"}]}]}}}}
    assert f"statefulset.apps/{name} created" in kubectl("apply", "-f", "-", input=json.dumps(sts)).stdout

    def failed_create() -> list[Any]:
        events = json.loads(kubectl("get", "events", "--field-selector", f"involvedObject.name={name}",
                                    "-o", "json").stdout)["items"]
        return [e for e in events if e.get("reason") == "FailedCreate"]

    event = wait_for("a FailedCreate event", failed_create)[0]
    assert "volumeMounts[0].name" in event["message"] and "missing" in event["message"]


def test_kubectl_get_nodes_prints_not_ready_and_scheduling_disabled(kubectl: Run) -> None:
    """kubectl's own rule (printNode): any Ready status but True is NotReady; cordoned adds SchedulingDisabled."""
    name = unique("lost-node")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    kubectl("create", "-f", "-", input=json.dumps(node))
    try:
        status = {"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                             "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
        kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
        row = kubectl("get", "node", name, "--no-headers").stdout.split()
        assert row[:2] == [name, "NotReady"]
        kubectl("cordon", name)
        row = kubectl("get", "node", name, "--no-headers").stdout.split()
        assert row[:2] == [name, "NotReady,SchedulingDisabled"]
    finally:
        kubectl("delete", "node", name, check=False)
