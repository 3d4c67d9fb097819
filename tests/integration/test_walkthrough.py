"""The README's walkthrough on real containers, driven as a user would: `minikube-py start`, then the
tutorial's commands with the real kubectl 1.35 and again with mkctl, then `minikube-py delete`.

One cluster for the module (a temp data dir, a free port, a unique node, HOME and KUBECONFIG in a
temp dir: the user's ~/.kube/config is never touched); each tool works in its own namespace.  The
steps: create a Deployment of nginx, see it Running with a pod IP from the node's podCIDR,
describe its events, read its logs (and follow a new line), exec a shell under a terminal (output
and exit code), port-forward to it (an HTTP GET answers), edit the Deployment's image (a rollout on
real containers), scale it, delete a pod (replaced), run a pod and attach to it, apply a
Deployment with a ConfigMap and a Secret used as env and as files (and see the file change after
an update), a failing liveness probe restarting a container with backoff (`logs -p` shows the
previous run), delete -f.  After `minikube-py delete`, Docker has nothing of ours.  Every request
goes to 127.0.0.1 or to the containers this test made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker")

from minikube_py.cli.launch import free_port, owned_by_node  # noqa: E402
from tests.fixtures.waiting import wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EDITED_IMAGE = "nginx:walkthrough"  # a tag of the local nginx image this test makes (and removes)


@dataclass
class Cluster:
    data_dir: Path
    home: Path
    node: str
    port: int
    kubectl_bin: Path

    def env(self, **extra: str) -> dict[str, str]:
        return dict(os.environ, HOME=str(self.home), KUBECONFIG=str(self.home / ".kube" / "config"),
                    PYTHONUNBUFFERED="1", **extra)

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "minikube_py.cli.main", *args, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=timeout, env=self.env(), cwd=ROOT)


@dataclass
class Tool:
    """kubectl or mkctl, with the namespace of this run."""
    name: str
    argv: list[str]
    namespace: str
    cluster: Cluster

    def cmd(self, *args: str) -> list[str]:
        return [*self.argv, "-n", self.namespace, *args]

    def __call__(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120,
                 **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.cmd(*args), input=input, capture_output=True, text=True, timeout=timeout,
                              env=self.cluster.env(**env), cwd=ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=self.cluster.env(), cwd=ROOT)


_ours = owned_by_node  # by our ownership label, this node only


@pytest.fixture(scope="module")
def cluster(kubectl_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no Docker engine: {exc}")
    tmp = tmp_path_factory.mktemp("walkthrough")
    (tmp / "home").mkdir()
    c = Cluster(tmp / "mk", tmp / "home", f"walk-{uuid.uuid4().hex[:6]}", free_port(), kubectl_bin)
    tagged = False
    try:
        started = c.cli("start", "--port", str(c.port), "--node-name", c.node, "--node-ip", "127.0.0.1",
                        "--timing", "fast", "--streaming-port", str(free_port()))
        assert started.returncode == 0, started.stdout + started.stderr
        client.images.get("nginx:latest").tag(EDITED_IMAGE)
        tagged = True
        yield c
        deleted = c.cli("delete")
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert _ours(client, c.node) == ([], [])  # docker ps -a / docker network ls: nothing of ours
    finally:
        c.cli("delete")
        containers, networks = _ours(client, c.node)
        for x in containers:
            x.remove(force=True)
        for n in networks:
            n.remove()
        if tagged:
            client.images.remove(EDITED_IMAGE)  # the tag only: nginx:latest stays
        client.close()


@pytest.fixture(params=["kubectl", "mkctl"])
def tool(request: pytest.FixtureRequest, cluster: Cluster) -> Tool:
    argv = [str(cluster.kubectl_bin)] if request.param == "kubectl" else [
        sys.executable, "-m", "minikube_py.cli.main", "kubectl"]
    t = Tool(request.param, argv, f"walk-{request.param}", cluster)
    t("create", "namespace", t.namespace)
    return t


# ---- helpers -------------------------------------------------------------------------------------

def _running_pods(t: Tool, selector: str) -> list[Any]:
    out = []
    for p in t.json("pods", "-l", selector)["items"]:
        st = p.get("status") or {}
        if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running":
            continue
        if all(cs.get("ready") for cs in st.get("containerStatuses") or [{}]):
            out.append(p)
    return out


def _wait_pods(t: Tool, selector: str, count: int, timeout: float = 120) -> list[Any]:
    def enough() -> list[Any] | None:
        pods = _running_pods(t, selector)
        total = [p for p in t.json("pods", "-l", selector)["items"] if not p["metadata"].get("deletionTimestamp")]
        return pods if len(pods) == count and len(total) == count else None
    return list(wait_for(f"{count} pods {selector} Running", enough, timeout=timeout))


def _http(url: str, timeout: float = 5) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback or our pod's IP
        return r.status, r.read().decode(errors="replace")


def _answers(url: str) -> bool:
    try:
        return _http(url, timeout=2)[0] == 200
    except OSError:
        return False


def _read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    """Lines from the process until one contains `needle` (AssertionError after `timeout`)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    buffer = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = proc.stdout.read()
            if chunk:
                buffer += chunk
                if needle in buffer:
                    return buffer
        if proc.poll() is not None and not ready:
            break
    raise AssertionError(f"{needle!r} not seen in {timeout}s; got {buffer[-2000:]!r}")


def _in_terminal(argv: list[str], keys: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as its stdin/stdout (as `-it` wants), type `keys`, collect output."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=ROOT,
                            start_new_session=True)
    os.close(terminal)
    out = b""
    deadline = time.monotonic() + timeout
    typed = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:
                    data = b""
                out += data
                if not data and proc.poll() is not None:
                    break
            if not typed and (b"#" in out or time.monotonic() > deadline - timeout + 3):
                os.write(controller, keys.encode())
                typed = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return code, out.decode(errors="replace")


# ---- the walkthrough -----------------------------------------------------------------------------

def test_the_readme_walkthrough(tool: Tool, cluster: Cluster) -> None:
    t = tool
    node = json.loads(subprocess.run([str(cluster.kubectl_bin), "get", "node", cluster.node, "-o", "json"],
                                     capture_output=True, text=True, env=cluster.env(), check=True).stdout)
    pod_cidr = ipaddress.ip_network(node["spec"]["podCIDR"])

    # create a Deployment; its pod runs with an IP from the node's podCIDR
    t("create", "deployment", "nginx-deployment", "--image=nginx")
    pod = _wait_pods(t, "app=nginx-deployment", 1)[0]
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    assert ipaddress.ip_address(ip) in pod_cidr
    wide = t("get", "pods", "-o", "wide").stdout
    row = next(line.split() for line in wide.splitlines() if line.startswith(name))
    assert "Running" in row and ip in row and cluster.node in row, wide

    # describe: the steps as events (kubectl sorts them by a time in seconds: within one second its
    # order is its own), written in order (resourceVersion)
    described = t("describe", "pod", name).stdout.split("Events:", 1)[1]
    assert all(r in described for r in ("Scheduled", "Created", "Started")), described
    listed = t.json("events", "--field-selector", f"involvedObject.name={name}")["items"]
    written = [e["reason"] for e in sorted(listed, key=lambda e: int(e["metadata"]["resourceVersion"]))]
    assert [r for r in written if r in ("Scheduled", "Created", "Started")] == ["Scheduled", "Created", "Started"]

    # logs: nginx logs each request to stdout; -f sees a new one
    wait_for("nginx to answer", lambda: _answers(f"http://{ip}/"), timeout=30)
    wait_for("the request in the logs", lambda: "GET / HTTP/1.1" in t("logs", name).stdout, timeout=20)
    follow = t.popen("logs", "-f", name)
    try:
        marker = f"/walk-{uuid.uuid4().hex[:8]}"
        time.sleep(1)
        try:
            _http(f"http://{ip}{marker}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        _read_until(follow, marker)
    finally:
        follow.kill()
        follow.wait()

    # exec -it: a shell under a terminal, a command's output and its exit code
    code, out = _in_terminal(t.cmd("exec", "-it", name, "--", "/bin/sh"), "echo walk-$((6*7)); exit 3\n",
                             cluster.env())
    assert "walk-42" in out and code == 3, (code, out)
    done = t("exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 2", check=False)
    assert done.returncode == 2 and "out" in done.stdout and "err" in done.stderr, done

    # port-forward: an HTTP GET through it answers
    local = free_port()
    forward = t.popen("port-forward", f"pod/{name}", f"{local}:80")
    try:
        _read_until(forward, f"127.0.0.1:{local}")
        status, body = _http(f"http://127.0.0.1:{local}/")
        assert status == 200 and "nginx" in body.lower()
    finally:
        forward.kill()
        forward.wait()

    # edit the Deployment's image: it rolls out on real containers
    editor = f"sed -i -e 's#image: nginx$#image: {EDITED_IMAGE}#'"
    t("edit", "deployment/nginx-deployment", KUBE_EDITOR=editor)
    t("rollout", "status", "deployment/nginx-deployment", "--timeout=180s", timeout=200)
    pods = _wait_pods(t, "app=nginx-deployment", 1)
    assert pods[0]["spec"]["containers"][0]["image"] == EDITED_IMAGE and pods[0]["metadata"]["name"] != name

    # scale, then delete a pod: a new one replaces it
    t("scale", "deployment", "nginx-deployment", "--replicas=3")
    pods = _wait_pods(t, "app=nginx-deployment", 3)
    gone = pods[0]["metadata"]["name"]
    t("delete", "pod", gone)
    pods = _wait_pods(t, "app=nginx-deployment", 3)
    assert gone not in {p["metadata"]["name"] for p in pods}

    # run a pod with a command, attach to it
    t("run", "looper", "--image=busybox", "--", "/bin/sh", "-c",
      "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done")
    _wait_pods(t, "run=looper", 1)
    attach = t.popen("attach", "looper")
    try:
        _read_until(attach, "tick")
    finally:
        attach.kill()
        attach.wait()

    # apply a Deployment with a ConfigMap and a Secret used as env and as files
    manifest = _app_manifest("hello")
    t("apply", "-f", "-", input=manifest)
    app = _wait_pods(t, "app=walk-app", 1)[0]["metadata"]["name"]
    seen = t("exec", app, "--", "sh", "-c", "echo $GREETING $PASSWORD; cat /etc/config/greeting; echo; cat /etc/secret/password")
    assert seen.stdout.split() == ["hello", "s3cret", "hello", "s3cret"], seen.stdout
    t("apply", "-f", "-", input=_app_manifest("bonjour", only_config=True))
    wait_for("the ConfigMap file to change", lambda: t("exec", app, "--", "cat", "/etc/config/greeting").stdout.strip()
             == "bonjour", timeout=90, every=2)

    # a failing liveness probe: restarted with backoff, logs -p shows the previous run
    t("apply", "-f", "-", input=json.dumps(_unhealthy_pod()))
    wait_for("restarts", lambda: (t.json("pod", "unhealthy")["status"].get("containerStatuses") or [{}])[0].get(
        "restartCount", 0) >= 2, timeout=120, every=1)
    previous = t("logs", "-p", "unhealthy").stdout
    assert "started run" in previous, previous
    events = t("get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o", "json")
    reasons = {e["reason"] for e in json.loads(events.stdout)["items"]}
    assert {"Unhealthy", "Killing"} <= reasons, reasons

    # delete -f: the objects and their pods are gone
    t("delete", "-f", "-", input=manifest)
    wait_for("the app's pods gone", lambda: not t.json("pods", "-l", "app=walk-app")["items"], timeout=60)
    t("delete", "namespace", t.namespace, "--wait=false")


def _app_manifest(greeting: str, *, only_config: bool = False) -> str:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "walk-config"}, "data": {"greeting": greeting}}
    if only_config:
        return json.dumps(cm)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "walk-secret"},
              "stringData": {"password": "s3cret"}}
    container = {"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                 "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "walk-config", "key": "greeting"}}},
                         {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "walk-secret", "key": "password"}}}],
                 "volumeMounts": [{"name": "config", "mountPath": "/etc/config"},
                                  {"name": "secret", "mountPath": "/etc/secret", "readOnly": True}]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "walk-app"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "walk-app"}},
                           "template": {"metadata": {"labels": {"app": "walk-app"}},
                                        "spec": {"terminationGracePeriodSeconds": 1, "containers": [container],
                                                 "volumes": [{"name": "config", "configMap": {"name": "walk-config"}},
                                                             {"name": "secret",
                                                              "secret": {"secretName": "walk-secret"}}]}}}}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [cm, secret, deployment]})


def _unhealthy_pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unhealthy"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "app", "image": "busybox",
                "command": ["sh", "-c", "echo started run $(date +%s); sleep 3600"],
                "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
                                  "failureThreshold": 1}}]}}

