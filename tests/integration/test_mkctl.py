"""mkctl against a real `minikube-py server` on sqlite and on etcd, and beside the real kubectl.

The comparison test runs one tutorial-style scenario with kubectl in one namespace and with mkctl
in another, and requires the two transcripts (stdout, stderr and exit codes) to be the same once
ages, uids, timestamps, resource versions and the program names are masked.  The other tests
check each command's effect on the server through the official Python client's view (raw REST).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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

Run = Callable[..., subprocess.CompletedProcess[str]]
MKCTL = [sys.executable, "-m", "minikube_py.cli.mkctl"]


def _runner(prefix: list[str], server: RunningServer) -> Run:
    def run(*args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*prefix, "--kubeconfig", str(server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc
    return run


@pytest.fixture(scope="module")
def mkctl(apiserver: RunningServer) -> Run:
    return _runner(MKCTL, apiserver)


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, apiserver: RunningServer) -> Run:
    return _runner([str(kubectl_bin)], apiserver)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def get_json(run: Run, *args: str) -> Any:
    return json.loads(run("get", *args, "-o", "json").stdout)


DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
      annotations: {note: "a long annotation that is wider than eighty characters so that YAML folds it over lines"}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            ports: [{containerPort: 80, name: http}]
            env: [{name: A, value: "1"}, {name: B, value: "2"}]
          - name: side
            image: busybox:1.36
            command: ["sleep", "3600"]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg, labels: {x: "y"}}
    data: {a: "1", b: "two", multi: "line one\\nline two\\n"}
    """)


def _scenario(tmp: Path) -> list[list[str]]:
    """The commands a tutorial teaches, in order; each is run as `<tool> -n NS <args>`."""
    app = tmp / "app.yaml"
    app.write_text(DEPLOYMENT)
    app2 = tmp / "app2.yaml"
    app2.write_text(DEPLOYMENT.replace("nginx:1.25", "nginx:1.26").replace("replicas: 2", "replicas: 3")
                    .replace('{name: B, value: "2"}', '{name: C, value: "3"}'))
    bad = tmp / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad\n")
    return [
        ["create", "-f", str(app)],
        ["create", "-f", str(app)],
        ["get", "deploy,cm"],
        ["get", "deployments.apps", "web", "-o", "wide"],
        ["apply", "-f", str(app2)],
        ["apply", "-f", str(app2)],
        ["get", "deploy", "web", "-o",
         "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].env}"],
        ["label", "deploy", "web", "tier=front"],
        ["label", "deploy", "web", "tier=back"],
        ["label", "deploy", "web", "tier=back", "--overwrite"],
        ["label", "deploy", "web", "tier-"],
        ["annotate", "deploy", "web", "owner=me"],
        ["get", "deploy", "--show-labels"],
        ["get", "cm", "-L", "x"],
        ["scale", "deploy", "web", "--replicas=5"],
        ["scale", "deployment/web", "--replicas=1", "--current-replicas=2"],
        ["patch", "deploy", "web", "-p", '{"spec":{"replicas":4}}'],
        ["patch", "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":4}}'],
        ["patch", "deploy", "web", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]'],
        ["get", "deploy", "web", "-o", "yaml"],
        ["get", "cm", "cfg", "-o", "json"],
        ["get", "cm", "-o", "name"],
        ["get", "deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,"
                                "IMAGES:.spec.template.spec.containers[*].image"],
        ["describe", "deploy", "web"],
        ["describe", "cm", "cfg"],
        ["create", "deployment", "hello", "--image=nginx:1.25", "--replicas=2", "--port=80"],
        ["expose", "deployment", "hello", "--port=8080", "--target-port=80", "--type=NodePort"],
        ["create", "service", "clusterip", "backend", "--tcp=80:8080", "--dry-run=client", "-o", "yaml"],
        ["create", "configmap", "lit", "--from-literal=k=v", "--from-literal=n=1"],
        ["create", "secret", "generic", "pw", "--from-literal=password=s3cret"],
        ["run", "box", "--image=busybox:1.36", "--labels=app=box", "--env=MODE=test", "--", "sleep", "60"],
        ["get", "pods", "-o", "wide"],
        ["get", "pods", "-A", "-l", "app=box"],
        ["get", "po", "--field-selector=metadata.name=box", "-o", "name"],
        ["get", "cm", "--sort-by=.metadata.name", "-o", "name"],
        ["get", "deploy", "--sort-by={.spec.replicas}"],
        ["replace", "-f", str(app)],
        ["get", "secret", "pw", "-o", "jsonpath={.data.password}"],
        ["get", "svc", "hello", "-o", "jsonpath={.spec.ports[0].targetPort}"],
        ["get", "ns", "kube-system", "-o", "name"],
        ["rollout", "history", "deployment/web"],
        ["rollout", "pause", "deployment/web"],
        ["rollout", "pause", "deployment/web"],
        ["rollout", "resume", "deployment/web"],
        ["get", "nosuchkind"],
        ["get", "pods", "nosuchpod"],
        ["create", "-f", str(tmp / "missing.yaml")],
        ["create", "-f", str(bad)],
        ["get", "pods", "--no-such-flag"],
        ["delete", "cm", "cfg"],
        ["delete", "cm", "cfg"],
        ["delete", "-f", str(app)],
        ["delete", "deploy,svc,cm,secret,pod", "--all"],
        ["get", "all"],
    ]


_MASKS = [
    (re.compile(r"\b\d+(?:s|m\d*s?|h\d*m?|d\d*h?)\b"), "AGE"),
    (re.compile(r"(creationTimestamp|CreationTimestamp)\W+.*"), r"\1 TS"),
    (re.compile(r"(uid|resourceVersion)\W+.*"), r"\1 X"),
    (re.compile(r"\bkubectl\b|\bmkctl\b|minikube_py\.cli\.mkctl"), "CTL"),
    (re.compile(r"mkctl-edit-\S+|kubectl-edit-\S+"), "EDITFILE"),
    (re.compile(r"\b10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+\b"), "CLUSTERIP"),  # allocated per run
    (re.compile(r"\b3[0-2]\d{3}\b"), "NODEPORT"),
]


def _transcript(run: Run, namespace: str, commands: list[list[str]]) -> str:
    out = []
    for cmd in commands:
        proc = run("-n", namespace, *cmd, check=False)
        out.append(f"$ {' '.join(cmd)}\n{proc.stdout}[stderr]\n{proc.stderr}[exit {proc.returncode}]\n")
    text = "".join(out).replace(namespace, "NAMESPACE")
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def test_kubectl_and_mkctl_print_the_same(kubectl: Run, mkctl: Run, tmp_path: Path) -> None:
    ns_k, ns_m = unique("cmp-k"), unique("cmp-m")  # names of one length: column widths stay comparable
    kubectl("create", "namespace", ns_k)
    kubectl("create", "namespace", ns_m)
    commands = _scenario(tmp_path)
    expected = _transcript(kubectl, ns_k, commands)
    got = _transcript(mkctl, ns_m, commands)
    assert "AlreadyExists" in expected and "deployment.apps/web configured" in expected  # the scenario ran
    if got != expected:
        import difflib

        diff = "\n".join(difflib.unified_diff(expected.splitlines(), got.splitlines(), "kubectl", "mkctl",
                                              lineterm="", n=2))
        pytest.fail(f"mkctl's output differs from kubectl's:\n{diff}")


# --- commands one by one ---------------------------------------------------------------------

def test_discovery_commands(mkctl: Run, kubectl: Run) -> None:
    for args in (["api-versions"], ["api-resources"], ["api-resources", "-o", "wide"],
                 ["api-resources", "--namespaced=false"], ["api-resources", "-o", "name"]):
        assert mkctl(*args).stdout == kubectl(*args).stdout, args
    info = mkctl("cluster-info").stdout
    assert info.startswith("Kubernetes control plane is running at https://127.0.0.1:")
    version = mkctl("version").stdout
    assert "Client Version: v1.35.0+minikube-py" in version and "Server Version: v1.35.0+minikube-py" in version


def test_minikube_py_kubectl_is_mkctl(apiserver: RunningServer) -> None:
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "kubectl", "--kubeconfig",
                           str(apiserver.kubeconfig), "get", "ns", "default", "-o", "name"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "namespace/default\n"


def test_create_from_directory_stdin_and_url(mkctl: Run, tmp_path: Path) -> None:
    import http.server
    import threading

    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    a, b, c, u = unique("cm-a"), unique("cm-b"), unique("cm-c"), unique("cm-url")
    (d / "a.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": a}}))
    (d / "sub" / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": b}}))
    (d / "notes.txt").write_text("not a manifest")
    out = mkctl("create", "-f", str(d)).stdout
    assert out == f"configmap/{a} created\n"  # not recursive without -R
    assert mkctl("create", "-f", str(d), "-R", check=False).stdout.endswith(f"configmap/{b} created\n")
    assert mkctl("create", "-f", "-", input=f"kind: ConfigMap\napiVersion: v1\nmetadata: {{name: {c}}}\n").stdout \
        == f"configmap/{c} created\n"
    (tmp_path / "u.yaml").write_text(f"kind: ConfigMap\napiVersion: v1\nmetadata: {{name: {u}}}\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/u.yaml"
        assert mkctl("create", "-f", url).stdout == f"configmap/{u} created\n"
        missing = mkctl("create", "-f", url.replace("u.yaml", "nope.yaml"), check=False)
        assert missing.returncode == 1 and "404" in missing.stderr
    finally:
        httpd.shutdown()
    names = mkctl("get", "cm", "-o", "name").stdout.split()
    assert {f"configmap/{x}" for x in (a, b, c, u)} <= set(names)


def test_apply_is_a_three_way_merge(mkctl: Run, tmp_path: Path) -> None:
    name = unique("tw")
    f = tmp_path / "d.yaml"

    def write(image: str, env: list[dict[str, str]], labels: dict[str, str]) -> None:
        f.write_text(yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image, "env": env}]}}}}))

    write("nginx:1.25", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], {"app": name, "drop": "me"})
    assert mkctl("apply", "-f", str(f)).stdout == f"deployment.apps/{name} created\n"
    # another writer adds a label and a container; apply must leave them alone
    mkctl("label", "deploy", name, "owner=ops")
    mkctl("patch", "deploy", name, "-p",
          json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "extra", "image": "busybox"}]}}}}))
    write("nginx:1.26", [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}], {"app": name})
    assert mkctl("apply", "-f", str(f)).stdout == f"deployment.apps/{name} configured\n"
    live = get_json(mkctl, "deploy", name)
    assert live["metadata"]["labels"] == {"app": name, "owner": "ops"}  # `drop` removed, `owner` kept
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"web", "extra"}
    assert containers["web"]["image"] == "nginx:1.26"
    assert containers["web"]["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    # apply reads stdin and directories too
    assert mkctl("apply", "-f", "-", input=f.read_text()).returncode == 0
    d = tmp_path / "many"
    d.mkdir()
    (d / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-cm}}\ndata: {{k: v}}\n")
    assert mkctl("apply", "-f", str(d)).stdout == f"configmap/{name}-cm created\n"
    # kubectl answers `configured` here too: the live list holds a container the file lacks, so the
    # patch names the element order (and changes nothing)
    assert mkctl("apply", "-f", str(f)).stdout == f"deployment.apps/{name} configured\n"
    assert get_json(mkctl, "deploy", name)["spec"] == live["spec"]


def test_delete_forms_and_cascade(mkctl: Run, apiserver: RunningServer) -> None:
    ns = unique("del")
    mkctl("create", "namespace", ns)
    for i in range(3):
        mkctl("-n", ns, "create", "configmap", f"c{i}", f"--from-literal=i={i}")
    mkctl("-n", ns, "label", "cm", "c0", "c1", "group=a")
    out = mkctl("-n", ns, "delete", "cm", "-l", "group=a").stdout
    assert out == f'configmap "c0" deleted from {ns} namespace\nconfigmap "c1" deleted from {ns} namespace\n'
    assert mkctl("-n", ns, "get", "cm", "-o", "name").stdout == "configmap/c2\n"
    # orphan deletion leaves the object to the garbage collector (the `orphan` finalizer); don't wait for it
    assert mkctl("-n", ns, "delete", "cm", "c2", "--cascade=orphan", "--wait=false").stdout == \
        f'configmap "c2" deleted from {ns} namespace\n'
    assert mkctl("-n", ns, "get", "cm", "c2", "-o", "jsonpath={.metadata.finalizers}").stdout == '["orphan"]'
    mkctl("-n", ns, "patch", "cm", "c2", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    empty = mkctl("-n", ns, "get", "cm")
    assert empty.stdout == "" and empty.stderr == f"No resources found in {ns} namespace.\n"
    assert mkctl("-n", ns, "delete", "cm", "--all").stderr == "No resources found\n"
    gone = mkctl("-n", ns, "delete", "cm", "c2", check=False)
    assert gone.returncode == 1 and gone.stderr == 'Error from server (NotFound): configmaps "c2" not found\n'
    assert mkctl("-n", ns, "delete", "cm", "c2", "--ignore-not-found").returncode == 0
    forced = mkctl("-n", ns, "run", "p", "--image=busybox:1.36")
    assert forced.stdout == "pod/p created\n"
    out2 = mkctl("-n", ns, "delete", "pod", "p", "--grace-period=0", "--force")
    assert out2.stdout == f'pod "p" deleted from {ns} namespace\n'
    assert "Immediate deletion does not wait" in out2.stderr


def test_edit_saves_and_reopens_on_error(mkctl: Run, tmp_path: Path) -> None:
    name = unique("ed")
    mkctl("create", "deployment", name, "--image=nginx:1.25", "--replicas=2")
    editor = tmp_path / "editor.py"
    editor.write_text(textwrap.dedent("""\
        import re, sys
        text = open(sys.argv[1]).read()
        open(sys.argv[2], "a").write("x")  # count the openings
        if "was not valid" in text:          # second opening: the error is shown, fix the value
            text = text.replace("replicas: -1", "replicas: 7")
        else:                                # first opening: make it invalid
            text = re.sub(r"\\n  replicas: 2", "\\n  replicas: -1", text)
        open(sys.argv[1], "w").write(text)
        """))
    calls = tmp_path / "calls"
    # the editor gets the file as its last argument; a wrapper passes the counter file after it
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {editor} "$1" {calls}\n')
    wrapper.chmod(0o755)
    out = mkctl("edit", "deployment", name, env={"KUBE_EDITOR": str(wrapper)})
    assert out.stdout == f"deployment.apps/{name} edited\n"
    assert calls.read_text() == "xx"  # opened twice: once more after the invalid save
    assert get_json(mkctl, "deploy", name)["spec"]["replicas"] == 7
    unchanged = mkctl("edit", "deployment", name, env={"KUBE_EDITOR": "true"})
    assert unchanged.stdout == "Edit cancelled, no changes made.\n"


def test_get_watch_prints_changes(mkctl: Run, apiserver: RunningServer) -> None:
    name = unique("w")
    mkctl("create", "configmap", name, "--from-literal=a=1")
    proc = subprocess.Popen([*MKCTL, "--kubeconfig", str(apiserver.kubeconfig), "get", "cm", name, "-w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        first = proc.stdout.readline()
        assert header.split() == ["NAME", "DATA", "AGE"] and first.split()[:2] == [name, "1"]
        mkctl("patch", "cm", name, "--type=merge", "-p", '{"data":{"b":"2"}}')
        changed = proc.stdout.readline()
        assert changed.split()[:2] == [name, "2"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_config_commands_edit_the_kubeconfig(apiserver: RunningServer, tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(apiserver.kubeconfig.read_text())
    run = _runner(MKCTL, apiserver)

    def mk(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*MKCTL, *args], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, KUBECONFIG=str(cfg)), check=check)

    assert mk("config", "current-context").stdout == "minikube-py\n"
    assert mk("config", "set-context", "--current", "--namespace=kube-system").stdout == \
        'Context "minikube-py" modified.\n'
    assert mk("get", "ns", "kube-system", "-o", "name").returncode == 0
    assert yaml.safe_load(cfg.read_text())["contexts"][0]["context"]["namespace"] == "kube-system"
    assert mk("config", "set-context", "other", "--cluster=minikube-py", "--user=admin").stdout == \
        'Context "other" created.\n'
    assert mk("config", "use-context", "other").stdout == 'Switched to context "other".\n'
    contexts = mk("config", "get-contexts").stdout.splitlines()
    assert contexts[0].split() == ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
    assert contexts[2].split() == ["*", "other", "minikube-py", "admin"]
    bad = mk("config", "use-context", "nope", check=False)
    assert bad.returncode == 1 and bad.stderr == 'error: no context exists with the name: "nope"\n'
    view = yaml.safe_load(mk("config", "view").stdout)
    assert view["users"][0]["user"]["token"] == "REDACTED"
    assert run("get", "ns", "default", "-o", "name").stdout == "namespace/default\n"  # the original file is untouched


def test_describe_shows_events(mkctl: Run, kubectl: Run) -> None:
    name = unique("ev")
    mkctl("create", "configmap", name, "--from-literal=a=1")
    cm = get_json(mkctl, "cm", name)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.1"},
             "involvedObject": {"kind": "ConfigMap", "name": name, "namespace": "default",
                                "uid": cm["metadata"]["uid"], "apiVersion": "v1"},
             "reason": "Checked", "message": "all keys present", "type": "Normal", "count": 1,
             "source": {"component": "test"}, "firstTimestamp": cm["metadata"]["creationTimestamp"],
             "lastTimestamp": cm["metadata"]["creationTimestamp"]}
    mkctl("create", "-f", "-", input=json.dumps(event))
    text = mkctl("describe", "cm", name).stdout
    assert text.startswith(f"Name:         {name}\nNamespace:    default\n")
    lines = text.splitlines()
    i = lines.index("Events:")
    assert lines[i + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[i + 3].split()[:2] == ["Normal", "Checked"] and lines[i + 3].endswith("all keys present")
    age = _MASKS[0][0]
    assert age.sub("AGE", text) == age.sub("AGE", kubectl("describe", "cm", name).stdout)


def test_rollout_status_history_undo_restart(mkctl: Run, tmp_path: Path) -> None:
    name = unique("ro")
    mkctl("create", "deployment", name, "--image=nginx:1.25", "--replicas=2")
    dep = get_json(mkctl, "deploy", name)
    # no controller runs yet (issue 4): write the ReplicaSets and status a controller would write
    for rev, image in ((1, "nginx:1.24"), (2, "nginx:1.25")):
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{name}-r{rev}", "labels": {"app": name, "pod-template-hash": f"r{rev}"},
                           "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                "uid": dep["metadata"]["uid"], "controller": True}]},
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name, "pod-template-hash": f"r{rev}"}},
                       "template": {"metadata": {"labels": {"app": name, "pod-template-hash": f"r{rev}"}},
                                    "spec": {"containers": [{"name": "nginx", "image": image}]}}}}
        mkctl("create", "-f", "-", input=json.dumps(rs))
    history = mkctl("rollout", "history", f"deployment/{name}").stdout
    assert history == f"deployment.apps/{name} \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    status_patch = json.dumps({"status": {"observedGeneration": dep["metadata"]["generation"], "replicas": 2,
                                          "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}})
    mkctl("patch", "deploy", name, "--subresource=status", "--type=merge", "-p", status_patch)
    assert mkctl("rollout", "status", f"deployment/{name}", "--timeout=10s").stdout == \
        f'deployment "{name}" successfully rolled out\n'
    assert mkctl("rollout", "undo", f"deployment/{name}").stdout == f"deployment.apps/{name} rolled back\n"
    undone = get_json(mkctl, "deploy", name)
    assert undone["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.24"
    assert "pod-template-hash" not in undone["spec"]["template"]["metadata"]["labels"]
    # the spec changed and no controller observed it: status waits, and says so, until the timeout
    waiting = mkctl("rollout", "status", f"deployment/{name}", "--timeout=1s", check=False)
    assert waiting.returncode == 1
    assert waiting.stdout == "Waiting for deployment spec update to be observed...\n"
    assert waiting.stderr == "error: timed out waiting for the condition\n"
    assert mkctl("rollout", "restart", f"deployment/{name}").stdout == f"deployment.apps/{name} restarted\n"
    # a rollout past its progress deadline ends `rollout status` with kubectl's error
    now = get_json(mkctl, "deploy", name)
    stuck = {"status": {"observedGeneration": now["metadata"]["generation"], "replicas": 2, "updatedReplicas": 1,
                        "conditions": [{"type": "Progressing", "status": "False",
                                        "reason": "ProgressDeadlineExceeded",
                                        "message": f'ReplicaSet "{name}-x" has timed out progressing.'}]}}
    mkctl("patch", "deploy", name, "--subresource=status", "--type=merge", "-p", json.dumps(stuck))
    failed = mkctl("rollout", "status", f"deployment/{name}", check=False)
    assert (failed.returncode, failed.stderr) == (1, f'error: deployment "{name}" exceeded its progress deadline\n')
    restarted = get_json(mkctl, "deploy", name)["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in restarted


def test_generators_create_what_kubectl_creates(mkctl: Run, kubectl: Run, tmp_path: Path,
                                                apiserver: RunningServer) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nMODE=prod\nLEVEL=3\n")
    data_file = tmp_path / "settings.json"
    data_file.write_text('{"a": 1}\n')
    cases = [
        ["create", "configmap", "NAME", f"--from-file={data_file}", "--from-literal=x=1"],
        ["create", "configmap", "NAME", f"--from-env-file={env_file}"],
        ["create", "secret", "generic", "NAME", f"--from-file=key={data_file}", "--type=Opaque"],
        ["create", "secret", "tls", "NAME", f"--cert={apiserver.data_dir / 'pki' / 'apiserver.crt'}",
         f"--key={apiserver.data_dir / 'pki' / 'apiserver.key'}"],
        # a port of its own: servers on one etcd share the node port range, as one cluster does
        ["create", "service", "nodeport", "NAME", "--tcp=80:8080", f"--node-port={30000 + uuid.uuid4().int % 2700}"],
        ["create", "service", "loadbalancer", "NAME", "--tcp=443:8443"],
        ["create", "service", "externalname", "NAME", "--external-name=db.example.com"],
        ["create", "deployment", "NAME", "--image=nginx:1.25", "--image=busybox:1.36"],
        ["run", "NAME", "--image=busybox:1.36", "--restart=Never", "--port=8080", "--command", "--", "sleep", "1"],
    ]
    mismatched = mkctl("create", "secret", "tls", "bad", f"--cert={apiserver.data_dir / 'pki' / 'ca.crt'}",
                       f"--key={apiserver.data_dir / 'pki' / 'apiserver.key'}", check=False)
    assert mismatched.returncode == 1 and mismatched.stderr.startswith("error: failed to load key pair tls:")
    for case in cases:
        name = unique("gen")
        args = [name if a == "NAME" else a for a in case]
        cut = args.index("--") if "--" in args else len(args)  # flags go before a `--` command
        dry = [*args[:cut], "--dry-run=client", "-o", "yaml", *args[cut:]]
        expected = kubectl(*dry).stdout
        assert mkctl(*dry).stdout == expected, case
        created = mkctl(*args)
        assert created.stdout.endswith(f"/{name} created\n"), created.stdout
        assert name in mkctl("get", created.stdout.split("/")[0], name, "-o", "name").stdout


BAD_INPUTS = [
    (["create", "-f", "/nonexistent/x.yaml"], 'error: the path "/nonexistent/x.yaml" does not exist'),
    (["create", "-f", "BAD"], "error: error parsing BAD: error converting YAML to JSON: yaml: line"),
    (["get", "flurbs"], 'error: the server doesn\'t have a resource type "flurbs"'),
    (["get", "pods", "--flurb"], "error: unknown flag: --flurb"),
    (["scale", "deploy", "x"], "error: the following arguments are required: --replicas"),
    (["get", "pods", "-o", "yamll"], 'error: unable to match a printer suitable for the output format "yamll"'),
    (["patch", "cm", "x", "-p", "{not json"], "error: unable to parse"),
    (["delete", "pods"], "error: resource(s) were provided, but no name was specified"),
    (["apply", "-f", "KINDLESS"], 'error: error validating "KINDLESS": error validating data: kind not set'),
    (["--kubeconfig", "/nonexistent/config", "get", "pods"], "error: stat /nonexistent/config: no such file"),
]


def test_bad_input_gets_one_line_and_changes_nothing(mkctl: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    kindless = tmp_path / "kindless.yaml"
    kindless.write_text("apiVersion: v1\nmetadata: {name: x}\n")
    before = mkctl("get", "all,cm,secrets", "-A", "-o", "name").stdout
    for args, message in BAD_INPUTS:
        args = [str(bad) if a == "BAD" else str(kindless) if a == "KINDLESS" else a for a in args]
        message = message.replace("BAD", str(bad)).replace("KINDLESS", str(kindless))
        proc = mkctl(*args, check=False)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stdout == "", (args, proc.stdout)
        assert proc.stderr.startswith(message), (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        first_line = proc.stderr.splitlines()[0]
        assert len(proc.stderr.splitlines()) <= 2 and first_line.startswith("error:"), proc.stderr
    assert mkctl("get", "all,cm,secrets", "-A", "-o", "name").stdout == before


def test_unreachable_server_is_one_line(tmp_path: Path, apiserver: RunningServer) -> None:
    cfg = yaml.safe_load(apiserver.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(cfg))
    start = time.monotonic()
    proc = subprocess.run([*MKCTL, "--kubeconfig", str(path), "get", "pods"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1
    assert proc.stderr == ("The connection to the server 127.0.0.1:1 was refused - did you specify the right host "
                           "or port?\n")
    assert time.monotonic() - start < 10


KINDS = """\
apiVersion: v1
kind: Secret
metadata: {name: s1, labels: {a: b}}
stringData: {user: admin, pw: x}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c1}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: PVNAME}
spec: {capacity: {storage: 2Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/x}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: st}
spec:
  serviceName: st
  replicas: 2
  selector: {matchLabels: {app: st}}
  template:
    metadata: {labels: {app: st}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs1}
spec:
  replicas: 1
  selector: {matchLabels: {app: rs1}}
  template:
    metadata: {labels: {app: rs1}}
    spec: {containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}, limits: {cpu: 200m, memory: 64Mi}}}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets: [{addresses: [{ip: 10.244.0.5}], ports: [{port: 80}]}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: l1}
spec: {holderIdentity: me, leaseDurationSeconds: 10}
---
apiVersion: v1
kind: Node
metadata: {name: NODENAME, labels: {kubernetes.io/hostname: NODENAME, node-role.kubernetes.io/worker: ""}}
spec: {podCIDR: 10.244.1.0/24, taints: [{key: a, value: b, effect: NoSchedule}]}
status: {capacity: {cpu: "2", memory: 4Gi, pods: "110"}, allocatable: {cpu: "2", memory: 4Gi, pods: "110"},
         addresses: [{type: InternalIP, address: 10.0.0.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec: {type: NodePort, selector: {app: st}, ports: [{port: 80, name: http}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pp, labels: {app: rs1}}
spec:
  nodeName: NODENAME
  containers:
  - name: pp
    image: nginx
    resources: {requests: {cpu: 100m, memory: 64Mi}}
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: c1}}]
"""


def test_describe_matches_kubectl_for_every_kind(mkctl: Run, kubectl: Run) -> None:
    ns, node, pv = unique("dsc"), unique("node"), unique("pv")
    mkctl("create", "namespace", ns)
    mkctl("-n", ns, "create", "-f", "-", input=KINDS.replace("NODENAME", node).replace("PVNAME", pv))
    age = _MASKS[0][0]
    for args in (["secret", "s1"], ["pvc", "c1"], ["pv", pv], ["sts", "st"], ["rs", "rs1"], ["ep", "web"],
                 ["lease", "l1"], ["node", node], ["svc", "np"], ["pod", "pp"], ["ns", ns], ["sc"], ["rs"]):
        expected = age.sub("AGE", kubectl("-n", ns, "describe", *args).stdout)
        assert age.sub("AGE", mkctl("-n", ns, "describe", *args).stdout) == expected, args
    mkctl("delete", "node", node, "--wait=false")
    mkctl("delete", "pv", pv, "--wait=false")
