"""The real kubectl (>= 1.30) against a real `minikube-py server`, on sqlite and on etcd.

Each test runs kubectl as a user would and checks what it printed and what the server stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.server import RunningServer

pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, apiserver: RunningServer) -> Kubectl:
    def run(*args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(kubectl_bin), "--kubeconfig", str(apiserver.kubeconfig), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})))
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc

    return run


def get_json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 2, **labels: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
          labels: {json.dumps(dict(app=name, **labels))}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: web
                image: {image}
                ports:
                - containerPort: 80
              - name: sidecar
                image: busybox:1.36
                command: ["sleep", "3600"]
        """)


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def test_api_versions_lists_every_group_version(kubectl: Kubectl) -> None:
    out = kubectl("api-versions").stdout.split()
    for gv in ("v1", "apps/v1", "networking.k8s.io/v1", "storage.k8s.io/v1", "coordination.k8s.io/v1",
               "events.k8s.io/v1"):
        assert gv in out


def test_api_resources_shows_kinds_with_short_names(kubectl: Kubectl) -> None:
    out = kubectl("api-resources").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "po" in lines["pods"].split() and "Pod" in lines["pods"]
    assert "deploy" in lines["deployments"].split() and "apps/v1" in lines["deployments"]
    assert "ns" in lines["namespaces"].split() and "false" in lines["namespaces"].split()


def test_create_from_file_directory_and_stdin(kubectl: Kubectl, tmp_path: Path) -> None:
    a, b, c = unique("cm-file"), unique("cm-dir"), unique("cm-stdin")
    f = tmp_path / "one.yaml"
    f.write_text(configmap(a, k="1"))
    d = tmp_path / "dir"
    d.mkdir()
    (d / "x.yaml").write_text(configmap(b, k="2"))
    (d / "y.json").write_text(json.dumps(yaml.safe_load(deployment(unique("dep-dir")))))
    assert f"configmap/{a} created" in kubectl("create", "-f", str(f)).stdout
    out = kubectl("create", "-f", str(d)).stdout
    assert f"configmap/{b} created" in out and "deployment.apps/dep-dir-" in out
    assert f"configmap/{c} created" in kubectl("create", "-f", "-", input=configmap(c, k="3")).stdout
    assert get_json(kubectl, "cm", c)["data"] == {"k": "3"}
    again = kubectl("create", "-f", str(f), check=False)
    assert again.returncode != 0
    assert f'configmaps "{a}" already exists' in again.stderr


def test_apply_twice_patches_and_keeps_uid(kubectl: Kubectl, tmp_path: Path) -> None:
    name = unique("web")
    f = tmp_path / "d.yaml"
    f.write_text(deployment(name, image="nginx:1.25", replicas=2))
    assert f"deployment.apps/{name} created" in kubectl("apply", "-f", str(f)).stdout
    first = get_json(kubectl, "deployment", name)
    assert "kubectl.kubernetes.io/last-applied-configuration" in first["metadata"]["annotations"]
    f.write_text(deployment(name, image="nginx:1.26", replicas=3))
    assert f"deployment.apps/{name} configured" in kubectl("apply", "-f", str(f)).stdout
    second = get_json(kubectl, "deployment", name)
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["spec"]["replicas"] == 3
    containers = {c["name"]: c for c in second["spec"]["template"]["spec"]["containers"]}
    assert containers["web"]["image"] == "nginx:1.26"
    assert containers["sidecar"]["image"] == "busybox:1.36"  # the other container survived the merge
    assert second["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert f"deployment.apps/{name} unchanged" in kubectl("apply", "-f", str(f)).stdout


@pytest.mark.parametrize("resource", ["pods", "po", "services", "svc", "deployments", "deploy", "replicasets", "rs",
                                      "statefulsets", "sts", "configmaps", "cm", "secrets", "ingresses", "ing",
                                      "persistentvolumeclaims", "pvc", "persistentvolumes", "pv", "namespaces", "ns",
                                      "nodes", "no", "events", "ev", "endpoints", "ep", "storageclasses", "sc",
                                      "leases", "ingressclasses"])
def test_get_every_kind_and_short_name(kubectl: Kubectl, resource: str) -> None:
    proc = kubectl("get", resource, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stderr.lower()


def test_get_output_formats(kubectl: Kubectl) -> None:
    name = unique("fmt")
    kubectl("create", "-f", "-", input=deployment(name))
    wide = kubectl("get", "deploy", name, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:6] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS"]
    assert "nginx:1.25,busybox:1.36" in wide[1]
    assert yaml.safe_load(kubectl("get", "deploy", name, "-o", "yaml").stdout)["metadata"]["name"] == name
    assert get_json(kubectl, "deploy", name)["kind"] == "Deployment"
    assert kubectl("get", "deploy", name, "-o", "name").stdout.strip() == f"deployment.apps/{name}"
    assert kubectl("get", "ns", "-o", "name").stdout.split()[:1] != []


def test_get_all_label_selector_and_all_namespaces(kubectl: Kubectl) -> None:
    ns = unique("ns")
    kubectl("create", "namespace", ns)
    name = unique("sel")
    kubectl("-n", ns, "create", "-f", "-", input=deployment(name, tier="front"))
    kubectl("-n", ns, "create", "-f", "-", input=deployment(unique("other"), tier="back"))
    assert f"deployment.apps/{name}" in kubectl("-n", ns, "get", "all").stdout
    selected = kubectl("-n", ns, "get", "deploy", "-l", "tier=front", "-o", "name").stdout.split()
    assert selected == [f"deployment.apps/{name}"]
    assert kubectl("-n", ns, "get", "deploy", "-l", "tier in (front,back)", "-o", "name").stdout.count("\n") == 2
    everywhere = kubectl("get", "deploy", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE"
    assert any(line.split()[:2] == [ns, name] for line in everywhere[1:])


def test_get_watch_sees_a_change(kubectl: Kubectl, kubectl_bin: Path, apiserver: RunningServer) -> None:
    name = unique("watched")
    kubectl("create", "configmap", name, "--from-literal=a=1")
    proc = subprocess.Popen([str(kubectl_bin), "--kubeconfig", str(apiserver.kubeconfig), "get", "cm", name, "-w",
                             "-o", "json", "--output-watch-events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        time.sleep(1.0)
        kubectl("label", "cm", name, "changed=yes")
        deadline = time.monotonic() + 15
        seen = ""
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        events: list[dict] = []
        while time.monotonic() < deadline and not any(e["type"] == "MODIFIED" for e in events):
            chunk = proc.stdout.read()
            if chunk:
                seen += chunk
                *lines, seen = seen.split("\n")
                events += [json.loads(line) for line in lines if line.strip()]
            time.sleep(0.1)
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED"], events
        assert events[1]["object"]["metadata"]["labels"] == {"changed": "yes"}
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_describe_shows_the_object(kubectl: Kubectl) -> None:
    name = unique("desc")
    kubectl("create", "-f", "-", input=deployment(name))
    out = kubectl("describe", "deployment", name).stdout
    assert "Name:" in out and name in out
    assert "nginx:1.25" in out
    assert "RollingUpdate" in out


def test_label_add_overwrite_remove(kubectl: Kubectl) -> None:
    name = unique("lbl")
    kubectl("create", "configmap", name, "--from-literal=a=1")
    kubectl("label", "cm", name, "color=red")
    assert get_json(kubectl, "cm", name)["metadata"]["labels"]["color"] == "red"
    refused = kubectl("label", "cm", name, "color=blue", check=False)
    assert refused.returncode != 0 and "already has a value" in refused.stderr
    kubectl("label", "cm", name, "color=blue", "--overwrite")
    assert get_json(kubectl, "cm", name)["metadata"]["labels"]["color"] == "blue"
    kubectl("label", "cm", name, "color-")
    assert "color" not in (get_json(kubectl, "cm", name)["metadata"].get("labels") or {})


def test_annotate(kubectl: Kubectl) -> None:
    name = unique("ann")
    kubectl("create", "configmap", name, "--from-literal=a=1")
    kubectl("annotate", "cm", name, "note=hello world")
    assert get_json(kubectl, "cm", name)["metadata"]["annotations"]["note"] == "hello world"
    kubectl("annotate", "cm", name, "note-")
    assert "note" not in (get_json(kubectl, "cm", name)["metadata"].get("annotations") or {})


def test_scale_deployment(kubectl: Kubectl) -> None:
    name = unique("scale")
    kubectl("create", "-f", "-", input=deployment(name, replicas=1))
    assert "scaled" in kubectl("scale", "deployment", name, "--replicas=5").stdout
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 5
    kubectl("scale", f"deployment/{name}", "--replicas=2", "--current-replicas=5")
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 2
    stale = kubectl("scale", f"deployment/{name}", "--replicas=3", "--current-replicas=9", check=False)
    assert stale.returncode != 0
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 2


def test_edit_through_kube_editor(kubectl: Kubectl, tmp_path: Path) -> None:
    name = unique("edit")
    kubectl("create", "configmap", name, "--from-literal=color=red")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/color: red/color: green/' \"$1\"\n")
    editor.chmod(0o755)
    out = kubectl("edit", "cm", name, env={"KUBE_EDITOR": str(editor)}).stdout
    assert f"configmap/{name} edited" in out
    assert get_json(kubectl, "cm", name)["data"]["color"] == "green"


def test_replace_from_file(kubectl: Kubectl, tmp_path: Path) -> None:
    name = unique("repl")
    kubectl("create", "-f", "-", input=configmap(name, k="old"))
    current = get_json(kubectl, "cm", name)
    current["data"] = {"k": "new"}
    f = tmp_path / "cm.json"
    f.write_text(json.dumps(current))
    assert f"configmap/{name} replaced" in kubectl("replace", "-f", str(f)).stdout
    assert get_json(kubectl, "cm", name)["data"] == {"k": "new"}
    stale = kubectl("replace", "-f", str(f), check=False)  # f still holds the old resourceVersion
    assert stale.returncode != 0 and "the object has been modified" in stale.stderr


def test_patch_merge_strategic_and_json(kubectl: Kubectl) -> None:
    name = unique("patch")
    kubectl("create", "-f", "-", input=deployment(name))
    kubectl("patch", "deploy", name, "--type=merge", "-p", '{"spec":{"replicas":4}}')
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 4
    kubectl("patch", "deploy", name, "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}')
    containers = get_json(kubectl, "deploy", name)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:1.27"), ("sidecar", "busybox:1.36")]
    kubectl("patch", "deploy", name, "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":1}]')
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 1
    bad = kubectl("patch", "deploy", name, "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":7}]',
                  check=False)
    assert bad.returncode != 0
    assert get_json(kubectl, "deploy", name)["spec"]["replicas"] == 1


def test_delete_by_name_file_all_and_label(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = unique("del")
    kubectl("create", "namespace", ns)
    names = [unique("d") for _ in range(5)]
    for i, n in enumerate(names):
        kubectl("-n", ns, "create", "configmap", n, f"--from-literal=i={i}")
    kubectl("-n", ns, "label", "cm", names[1], "group=x")
    kubectl("-n", ns, "label", "cm", names[2], "group=x")
    assert f'configmap "{names[0]}" deleted' in kubectl("-n", ns, "delete", "cm", names[0]).stdout
    kubectl("-n", ns, "delete", "cm", "-l", "group=x")
    f = tmp_path / "cm.yaml"
    f.write_text(configmap(names[3]))
    kubectl("-n", ns, "delete", "-f", str(f))
    left = kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split()
    assert f"configmap/{names[4]}" in left and len([x for x in left if "/d-" in x]) == 1
    kubectl("-n", ns, "delete", "cm", "--all")
    assert [x for x in kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split() if "/d-" in x] == []
    missing = kubectl("-n", ns, "delete", "cm", names[0], check=False)
    assert missing.returncode != 0 and f'configmaps "{names[0]}" not found' in missing.stderr


def test_invalid_object_is_rejected_with_field_path(kubectl: Kubectl) -> None:
    bad = deployment("Bad_Name")
    proc = kubectl("create", "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    assert "is invalid" in proc.stderr and "metadata.name" in proc.stderr


def test_unknown_field_rejected_by_strict_validation(kubectl: Kubectl) -> None:
    doc = yaml.safe_load(deployment(unique("strict")))
    doc["spec"]["bogusField"] = 1
    proc = kubectl("create", "-f", "-", input=yaml.safe_dump(doc), check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.bogusField"' in proc.stderr


def test_generator_commands_send_protobuf_and_are_stored_as_json(kubectl: Kubectl) -> None:
    """`create deployment/service/secret/configmap/ingress`, `run` and `expose` send protobuf bodies."""
    ns = unique("gen")
    kubectl("create", "namespace", ns)
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80", "-n", ns)
    kubectl("create", "deployment", "idle", "--image=nginx:1.25", "--replicas=0", "-n", ns)
    kubectl("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080", "-n", ns)
    kubectl("create", "secret", "generic", "creds", "--from-literal=password=s3cret", "-n", ns)
    kubectl("create", "configmap", "conf", "--from-literal=a=1", "-n", ns)
    kubectl("create", "ingress", "ing", "--rule=foo.example/bar=web:80", "-n", ns)
    kubectl("run", "box", "--image=busybox:1.36", "--env=A=1", "--labels=app=box", "-n", ns, "--",
            "sleep", "3600")
    kubectl("expose", "deployment", "web", "--name=web-svc", "--port=81", "--target-port=80", "-n", ns)

    web = get_json(kubectl, "deployment", "web", "-n", ns)
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.25" and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert "creationTimestamp" not in web["spec"]["template"]["metadata"]
    assert get_json(kubectl, "deployment", "idle", "-n", ns)["spec"]["replicas"] == 0
    np = get_json(kubectl, "service", "np", "-n", ns)["spec"]
    assert np["type"] == "NodePort" and np["ports"][0]["nodePort"] == 30080 and np["ports"][0]["targetPort"] == 8080
    secret = get_json(kubectl, "secret", "creds", "-n", ns)
    assert secret["type"] == "Opaque" and secret["data"] == {"password": "czNjcmV0"}
    assert get_json(kubectl, "configmap", "conf", "-n", ns)["data"] == {"a": "1"}
    rule = get_json(kubectl, "ingress", "ing", "-n", ns)["spec"]["rules"][0]
    assert rule["host"] == "foo.example"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "web", "port": {"number": 80}}
    box = get_json(kubectl, "pod", "box", "-n", ns)
    assert box["metadata"]["labels"] == {"app": "box"}
    assert box["spec"]["containers"][0]["args"] == ["sleep", "3600"]
    assert box["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    svc = get_json(kubectl, "service", "web-svc", "-n", ns)["spec"]
    assert svc["selector"] == {"app": "web"} and svc["ports"][0]["port"] == 81
    kubectl("delete", "namespace", ns, "--wait=false")


def test_server_dry_run_goes_through_admission(kubectl: Kubectl) -> None:
    """kube admits a dry run as it admits a real create: a pod naming a missing ServiceAccount is
    refused, and the preview carries what admission fills in; nothing is stored."""
    name = unique("dry")
    ghost = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                        "spec": {"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "nginx"}]}})
    refused = kubectl("apply", "--dry-run=server", "-f", "-", input=ghost, check=False)
    assert refused.returncode == 1
    assert 'error looking up service account default/ghost: serviceaccount "ghost" not found' in refused.stderr
    plain = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    preview = json.loads(kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=plain).stdout)
    assert preview["spec"]["serviceAccountName"] == "default"
    assert {t["key"] for t in preview["spec"]["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                                 "node.kubernetes.io/unreachable"}
    assert kubectl("get", "pod", name, check=False).returncode == 1


def test_a_node_s_pod_cidr_is_set_once_and_never_changed(kubectl: Kubectl) -> None:
    """ValidateNodeUpdate: podCIDRs may go from "" to valid, and never change after."""
    name = unique("cidr-node")
    kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
    kubectl("patch", "node", name, "--type=merge", "-p",
            json.dumps({"spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"]}}))
    refused = kubectl("patch", "node", name, "--type=merge", "-p",
                      json.dumps({"spec": {"podCIDR": "10.244.8.0/24", "podCIDRs": ["10.244.8.0/24"]}}), check=False)
    assert refused.returncode == 1
    assert (f'The Node "{name}" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except '
            'from "" to valid') in refused.stderr
    assert get_json(kubectl, "node", name)["spec"]["podCIDRs"] == ["10.244.7.0/24"]
    kubectl("delete", "node", name)
