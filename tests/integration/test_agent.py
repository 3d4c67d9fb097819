"""The node agent on the real Docker engine: a control plane (--timing fast) and one `minikube-py agent`.

A pod becomes a pause sandbox plus app containers named and labelled as dockershim did, gets a pod
IP from the node's podCIDR, its containers share localhost; a kill -9 of the agent and a restart
adopt the running containers (same IDs, nothing restarted); deleting the pod removes its
containers.  Teardown removes every container and network carrying this agent's ownership label,
and only those, even when a test fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker")

from minikube_py.cli.launch import (  # noqa: E402
    RunningServer,
    free_cluster_cidr,
    free_port,
    owned_by_node,
    start_server,
    stop_server,
)
from tests.fixtures.waiting import wait_for  # noqa: E402

OWNER = "io.minikube-py.owner"


@dataclass
class AgentCluster:
    server: RunningServer
    node: str
    kubectl: Callable[..., subprocess.CompletedProcess[str]]
    agent: subprocess.Popen[bytes]
    log_file: Path
    streaming_port: int = 0  # the agent's HTTPS port (a free one, fixed for the module: restarts keep it)
    agent_args: tuple[str, ...] = ()  # extra `minikube-py agent` flags for the next start_agent()

    def start_agent(self) -> None:
        with self.log_file.open("ab") as log:
            self.agent = subprocess.Popen(
                [sys.executable, "-m", "minikube_py.cli.main", "agent", "--kubeconfig", str(self.server.kubeconfig),
                 "--node-name", self.node, "--node-ip", "127.0.0.1", "--timing", "fast",
                 "--data-dir", str(self.server.data_dir / "agent"), "--streaming-port", str(self.streaming_port),
                 *self.agent_args],
                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=True)

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


_ours = owned_by_node  # by our ownership label, this node only


def _cleanup(client: Any, node: str) -> None:
    containers, networks = _ours(client, node)
    for c in containers:
        with contextlib.suppress(docker.errors.NotFound):  # its pod's agent removed it meanwhile
            c.remove(force=True)
    for n in networks:
        n.remove()


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no Docker engine: {exc}")
    from minikube_py.deploy.offline import ensure_busybox, ensure_pause

    ensure_busybox()
    ensure_pause()
    yield client
    client.close()


@pytest.fixture(scope="module")
def agent_cluster(docker_client: Any, kubectl_bin: Path, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[AgentCluster]:
    data_dir = tmp_path_factory.mktemp("agent-cluster")
    node = f"agent-{uuid.uuid4().hex[:6]}"
    # a pod range no Docker network here uses, so this cluster runs beside any other on the engine
    server = start_server(data_dir, "sqlite", control_plane=True,
                          extra=("--timing", "fast", "--cluster-cidr", free_cluster_cidr(docker_client)))

    def kubectl(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=90)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    cluster = AgentCluster(server, node, kubectl, None, data_dir / "agent.log", free_port())  # type: ignore[arg-type]
    try:
        cluster.start_agent()
        yield cluster
    finally:
        if cluster.agent is not None:
            stop_server(cluster.agent)
        stop_server(server.process)
        _cleanup(docker_client, node)
        if request.node.session.testsfailed:
            sys.stderr.write(f"\n--- agent log ---\n{cluster.log_file.read_text(errors='replace')[-8000:]}\n"
                             f"--- server log ---\n{server.log()[-4000:]}\n")
    assert _ours(docker_client, node) == ([], [])


def _pod(name: str, containers: list[dict[str, Any]], policy: str = "Always") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"restartPolicy": policy, "terminationGracePeriodSeconds": 2,
                                "containers": containers}})


def _running(c: AgentCluster, name: str) -> Any:
    pod = c.get("pod", name)
    return pod if pod["status"].get("phase") == "Running" and pod["status"].get("podIP") else None


def _sleeper(c: AgentCluster) -> Any:
    """The pod the tests share (created by the first that needs it), once it runs."""
    c.kubectl("apply", "-f", "-", input=_pod("sleeper", [{"name": "main", "image": "busybox:latest",
                                                          "command": ["sleep", "3600"]}]))
    return wait_for("sleeper Running", lambda: _running(c, "sleeper"))


def test_the_agent_registers_a_ready_node_with_dockers_capacity(agent_cluster: AgentCluster,
                                                                 docker_client: Any) -> None:
    c = agent_cluster

    def ready() -> Any:
        r = c.kubectl("get", "node", c.node, "-o", "json", check=False)
        if r.returncode:
            return None
        node = json.loads(r.stdout)
        conds = {x["type"]: x["status"] for x in node["status"].get("conditions") or []}
        return node if conds.get("Ready") == "True" and node["spec"].get("podCIDR") else None

    node = wait_for("the node Ready with a podCIDR", ready)
    info = docker_client.info()
    assert node["status"]["capacity"]["cpu"] == str(info["NCPU"])
    assert node["status"]["capacity"]["memory"] == f"{info['MemTotal'] // 1024}Ki"
    assert node["status"]["capacity"]["pods"] == "110"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == f"docker://{docker_client.version()['Version']}"
    assert node["status"]["nodeInfo"]["kernelVersion"] == info["KernelVersion"]
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    lease = c.get("lease", "-n", "kube-node-lease", c.node)
    assert lease["spec"]["holderIdentity"] == c.node
    wait_for("the node's bridge network", lambda: _ours(docker_client, c.node)[1])
    net = _ours(docker_client, c.node)[1][0]
    cluster_id = net.attrs["Labels"][OWNER].partition("/")[0]
    assert net.name == f"minikube-py-{c.node}-{cluster_id[:8]}"  # clusters sharing an engine never share a name
    assert net.attrs["IPAM"]["Config"][0]["Subnet"] == node["spec"]["podCIDR"]
    assert net.attrs["Options"]["com.docker.network.bridge.enable_ip_masquerade"] == "false"


def test_a_pod_runs_as_a_sandbox_and_its_containers_with_dockershims_names(agent_cluster: AgentCluster,
                                                                           docker_client: Any) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    node = c.get("node", c.node)
    assert pod["spec"]["nodeName"] == c.node
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    assert pod["status"]["hostIP"] == "127.0.0.1"
    status = pod["status"]["containerStatuses"][0]
    assert (status["name"], status["ready"], status["restartCount"]) == ("main", True, 0)
    assert "running" in status["state"]
    conds = {x["type"]: x["status"] for x in pod["status"]["conditions"]}
    assert conds == {"PodScheduled": "True", "Initialized": "True", "ContainersReady": "True", "Ready": "True"}
    uid = pod["metadata"]["uid"]
    containers = {x.name: x for x in docker_client.containers.list(ignore_removed=True, filters={"label": f"io.kubernetes.pod.uid={uid}"})}
    assert set(containers) == {f"k8s_POD_sleeper_default_{uid}_0", f"k8s_main_sleeper_default_{uid}_0"}
    app = containers[f"k8s_main_sleeper_default_{uid}_0"]
    assert status["containerID"] == f"docker://{app.id}"
    assert app.labels["io.kubernetes.container.name"] == "main"
    assert app.labels["io.kubernetes.docker.type"] == "container"
    assert app.labels["io.kubernetes.pod.name"] == "sleeper"
    assert app.labels["io.kubernetes.pod.namespace"] == "default"
    assert app.labels["annotation.io.kubernetes.container.restartCount"] == "0"
    assert app.labels["annotation.io.kubernetes.container.hash"]
    assert app.labels[OWNER].endswith("/" + c.node)
    sandbox = containers[f"k8s_POD_sleeper_default_{uid}_0"]
    assert sandbox.labels["io.kubernetes.docker.type"] == "podsandbox"
    assert app.attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"


def test_containers_of_one_pod_reach_each_other_on_localhost(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    web = {"name": "web", "image": "busybox:latest", "command": ["sh", "-c"],
           "args": ["mkdir -p /www && echo hello-$(WHO) > /www/index.html && exec httpd -f -p 8080 -h /www"],
           "env": [{"name": "NAME", "value": "pod"}, {"name": "WHO", "value": "from-$(NAME)"}]}
    client = {"name": "client", "image": "busybox:latest", "command": ["sh", "-c"],
              "args": ["for i in $(seq 1 60); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080 "
                       "| grep -q hello-from-pod && exit 0; sleep 0.5; done; exit 1"]}
    c.kubectl("apply", "-f", "-", input=_pod("pair", [web, client], policy="Never"))

    def client_done() -> Any:
        pod = c.get("pod", "pair")
        for s in pod["status"].get("containerStatuses") or []:
            if s["name"] == "client" and "terminated" in s["state"]:
                return s["state"]["terminated"]
        return None

    terminated = wait_for("the client container to finish", client_done)
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    pod = c.get("pod", "pair")
    assert pod["status"]["phase"] == "Running"  # web still serves
    c.kubectl("delete", "pod", "pair", "--wait=false")


def _by_name(docker_client: Any, uid: str) -> dict[str, Any]:
    return {x.name: x for x in docker_client.containers.list(ignore_removed=True, all=True,
                                                             filters={"label": f"io.kubernetes.pod.uid={uid}"})}


def test_a_killed_app_container_is_restarted_and_its_count_grows(agent_cluster: AgentCluster,
                                                                 docker_client: Any) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    uid = pod["metadata"]["uid"]
    docker_client.containers.get(f"k8s_main_sleeper_default_{uid}_0").kill()

    def restarted() -> Any:
        s = c.get("pod", "sleeper")["status"]["containerStatuses"][0]
        return s if s["restartCount"] == 1 and "running" in s["state"] else None

    status = wait_for("main restarted", restarted, timeout=30)
    assert status["lastState"]["terminated"]["exitCode"] == 137
    names = _by_name(docker_client, uid)
    assert names[f"k8s_main_sleeper_default_{uid}_1"].status == "running"
    assert status["containerID"] == f"docker://{names[f'k8s_main_sleeper_default_{uid}_1'].id}"
    assert names[f"k8s_POD_sleeper_default_{uid}_0"].status == "running"  # the sandbox was left alone


def test_a_killed_pause_container_recreates_the_whole_pod(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    uid = pod["metadata"]["uid"]
    docker_client.containers.get(f"k8s_POD_sleeper_default_{uid}_0").kill()
    wait_for("a new sandbox and main #2", lambda: {f"k8s_POD_sleeper_default_{uid}_1", f"k8s_main_sleeper_default_{uid}_2"}
             <= {n for n, x in _by_name(docker_client, uid).items() if x.status == "running"}, timeout=40)
    pod = wait_for("sleeper Running again", lambda: (lambda p: p if p["status"]["containerStatuses"][0][
        "restartCount"] == 2 and p["status"].get("podIP") else None)(c.get("pod", "sleeper")), timeout=20)
    node = c.get("node", c.node)
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    running = [n for n, x in _by_name(docker_client, uid).items() if x.status == "running"]
    assert sorted(running) == sorted([f"k8s_POD_sleeper_default_{uid}_1", f"k8s_main_sleeper_default_{uid}_2"])


def test_a_killed_agent_adopts_its_containers_after_a_restart(agent_cluster: AgentCluster,
                                                              docker_client: Any) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    uid = pod["metadata"]["uid"]
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    before = {x.name: (x.id, x.attrs["State"]["StartedAt"]) for x in docker_client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"io.kubernetes.pod.uid={uid}"})}
    assert len([x for x in docker_client.containers.list(ignore_removed=True, filters={"label": f"io.kubernetes.pod.uid={uid}"})]) == 2
    os.killpg(c.agent.pid, signal.SIGKILL)
    c.agent.wait(timeout=10)
    c.start_agent()

    def adopted() -> bool:  # the new agent registered its node again (the old one said so once)
        return c.agent.poll() is None and c.log_file.read_text(errors="replace").count(
            f"node {c.node} registered (") >= 2
    wait_for("the restarted agent", adopted)
    time.sleep(5)  # a few resync passes (2 s in the fast profile)
    after = {x.name: (x.id, x.attrs["State"]["StartedAt"]) for x in docker_client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"io.kubernetes.pod.uid={uid}"})}
    assert after == before
    pod = c.get("pod", "sleeper")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == restarts  # as before the agent died


def test_deleting_a_pod_removes_its_containers(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    uid = pod["metadata"]["uid"]
    c.kubectl("delete", "pod", "sleeper", "--timeout=60s")
    assert c.kubectl("get", "pod", "sleeper", check=False).returncode != 0
    wait_for("its containers removed", lambda: not docker_client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"io.kubernetes.pod.uid={uid}"}), timeout=20)


def test_containers_whose_pod_is_gone_are_removed_and_nobody_elses(agent_cluster: AgentCluster,
                                                                   docker_client: Any) -> None:
    c = agent_cluster
    c.kubectl("apply", "-f", "-", input=_pod("orphan", [{"name": "main", "image": "busybox:latest",
                                                         "command": ["sleep", "3600"]}]))
    pod = wait_for("orphan Running", lambda: _running(c, "orphan"))
    uid = pod["metadata"]["uid"]
    os.killpg(c.agent.pid, signal.SIGKILL)
    c.agent.wait(timeout=10)
    c.kubectl("delete", "pod", "orphan", "--force", "--grace-period=0")  # gone while the agent was away
    foreign = []
    try:
        # a user's container and another agent's, both labelled as the pod's: neither is ours to touch
        for labels in ({"io.kubernetes.pod.uid": uid, "io.minikube-py.test": c.node},
                       {"io.kubernetes.pod.uid": uid, OWNER: f"another-cluster/{c.node}-other"}):
            foreign.append(docker_client.containers.run("busybox:latest", ["sleep", "3600"], detach=True,
                                                        labels=labels))
        c.start_agent()
        wait_for("the orphan's containers removed", lambda: not [
            x for x in _by_name(docker_client, uid).values() if x.labels.get(OWNER, "").endswith("/" + c.node)],
            timeout=30)
        for x in foreign:
            x.reload()
            assert x.status == "running"
    finally:
        for x in foreign:
            x.remove(force=True)


def test_status_is_written_only_when_it_changes_and_the_steps_are_events(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    pod = _sleeper(c)
    time.sleep(1)
    rv = c.get("pod", "sleeper")["metadata"]["resourceVersion"]
    time.sleep(5)  # two resync passes of the fast profile
    assert c.get("pod", "sleeper")["metadata"]["resourceVersion"] == rv
    events = c.get("events", "--field-selector", f"involvedObject.uid={pod['metadata']['uid']}")["items"]
    reasons = {(e["source"].get("component"), e["reason"]) for e in events}
    assert {("kubelet", "Created"), ("kubelet", "Started")} <= reasons


def test_dockers_event_stream_names_the_pods_of_our_containers_only(docker_client: Any) -> None:
    import threading

    from agents.kubelet.runtime import POD_UID, DockerRuntime

    node = f"events-{uuid.uuid4().hex[:6]}"
    runtime = DockerRuntime(f"test-cluster/{node}", node)
    seen: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=runtime.watch_events, args=(seen.append, stop), daemon=True)
    thread.start()
    made = []
    try:
        time.sleep(0.5)  # the stream is open
        made.append(docker_client.containers.run("busybox:latest", ["true"], detach=True,
                                                 labels={OWNER: runtime.owner, POD_UID: "ours"}))
        made.append(docker_client.containers.run("busybox:latest", ["true"], detach=True,
                                                 labels={OWNER: f"other/{node}", POD_UID: "theirs"}))
        wait_for("start and die of ours", lambda: seen.count("ours") >= 2, timeout=20)
    finally:
        stop.set()
        runtime.stop_events()
        for c in made:
            c.remove(force=True)
        thread.join(5)
        runtime.close()
    assert "theirs" not in seen and not thread.is_alive()


def test_a_pod_whose_image_is_missing_says_why_and_the_others_run(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    image = f"minikube-py-absent-{uuid.uuid4().hex[:6]}:1"  # never pulled: registries are off
    c.kubectl("apply", "-f", "-", input=_pod("noimage", [{"name": "main", "image": image}]))
    c.kubectl("apply", "-f", "-", input=_pod("fine", [{"name": "main", "image": "busybox:latest",
                                                       "command": ["sleep", "3600"]}]))

    def waiting() -> Any:
        s = (c.get("pod", "noimage")["status"].get("containerStatuses") or [{}])[0]
        return s.get("state", {}).get("waiting", {}).get("reason") == "ErrImageNeverPull" and s
    status = wait_for("noimage to say why", waiting, timeout=30)
    assert f"minikube-py image load {image}" in status["state"]["waiting"]["message"]
    assert c.get("pod", "noimage")["status"]["phase"] == "Pending"
    wait_for("the other pod Running", lambda: _running(c, "fine"), timeout=30)
    events = c.get("events", "--field-selector", "involvedObject.name=noimage")["items"]
    assert any(e["reason"] == "Failed" and e["type"] == "Warning" for e in events)
    c.kubectl("delete", "pod", "noimage", "fine", "--wait=false")


def test_a_host_network_pod_has_the_nodes_ip(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    body = json.loads(_pod("hostnet", [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]))
    body["spec"]["hostNetwork"] = True
    c.kubectl("apply", "-f", "-", input=json.dumps(body))
    pod = wait_for("hostnet Running", lambda: _running(c, "hostnet"), timeout=30)
    assert pod["status"]["podIP"] == pod["status"]["hostIP"] == "127.0.0.1"
    uid = pod["metadata"]["uid"]
    sandbox = docker_client.containers.get(f"k8s_POD_hostnet_default_{uid}_0")
    assert sandbox.attrs["HostConfig"]["NetworkMode"] == "host"
    c.kubectl("delete", "pod", "hostnet", "--timeout=60s")


def test_mkctl_trace_shows_the_kubelets_passes_with_its_docker_calls(agent_cluster: AgentCluster) -> None:
    """`mkctl trace pod/NAME` shows the scheduler's pass and then the kubelet's: what Docker had,
    the actions it computed and why, and each Docker call it made."""
    import threading

    c = agent_cluster
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", str(c.server.kubeconfig),
                             "trace", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    traces: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                traces.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    sleeper = [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]
    try:
        # the components learn within a few seconds that somebody watches: poke until the kubelet traces
        def kubelet_traces() -> bool:
            c.kubectl("label", "pod", "trace-warmup", f"poke={time.monotonic_ns()}", "--overwrite")
            return any(t["controller"] == "kubelet" for t in traces)
        c.kubectl("apply", "-f", "-", input=_pod("trace-warmup", sleeper))
        wait_for("the kubelet to trace its passes", kubelet_traces, timeout=40, every=1.0)
        c.kubectl("apply", "-f", "-", input=_pod("traced", sleeper))

        def started() -> Any:
            return next((t for t in traces if t["controller"] == "kubelet" and t["key"] == "default/traced" and any(
                w.startswith("DOCKER start_container -> ok") for w in t["wrote"])), None)
        trace = wait_for("a kubelet pass that started the container", started, timeout=40)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert trace["kind"] == "Pod" and trace["key"] == "default/traced" and trace["result"] == "synced"
    assert trace["observed"]["node"] == c.node
    assert "create sandbox (attempt 0)" in trace["wanted"]["actions"] and "start main #0" in trace["wanted"]["actions"]
    assert any(w.startswith("DOCKER create_sandbox -> ok") for w in trace["wrote"])
    assert any(w.startswith("PATCH /api/v1/namespaces/default/pods/traced/status") for w in trace["wrote"])
    assert trace["trigger"].startswith("pod ")
    assert any(t["controller"] == "scheduler" and t["key"] == "default/traced" for t in traces)  # one timeline
    c.kubectl("delete", "pod", "traced", "trace-warmup", "--wait=false")
