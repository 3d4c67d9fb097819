"""The agent under failure, on real Docker: a kill -9 of the agent with 20 pods running (nothing is
restarted or duplicated, and a container killed while it was down is restarted and counted within
10 s of its return), a pod whose command does not exist (RunContainerError, then CrashLoopBackOff
with the start error in lastState, while the node's other pods start), and a restart of the
Docker daemon itself (a private dockerd in a network namespace of its own, never the machine's):
the agent reconnects and brings every pod back.

The first two use the cluster of tests/integration/test_agent.py (its fixtures); the last starts its
own master and agent against the private daemon.  Teardown removes only what is ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("docker")

from minikube_py.cli.launch import free_port, start_server, stop_server  # noqa: E402
from tests.fixtures.dockerd import PrivateDockerd  # noqa: E402
from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, wait_for  # noqa: E402

agent_cluster = base.agent_cluster
docker_client = base.docker_client


def _deployment(name: str, replicas: int) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}}, "spec": {
                                    "terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "main", "image": "busybox:latest",
                                                    "imagePullPolicy": "IfNotPresent",
                                                    "command": ["sleep", "3600"]}]}}}})


def _all_running(pods: list[dict[str, Any]], count: int) -> bool:
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return len(live) == count and all(
        p["status"].get("phase") == "Running" and all(cs.get("ready") and "running" in cs.get("state", {})
                                                      for cs in p["status"].get("containerStatuses") or [{}])
        for p in live)


def _containers(client: Any, label: str) -> dict[str, tuple[str, str]]:
    return {x.name: (x.id, x.attrs["State"]["StartedAt"])
            for x in client.containers.list(ignore_removed=True, all=True, filters={"label": label})}


def test_kill_9_of_the_agent_with_20_pods_restarts_and_duplicates_nothing(agent_cluster: AgentCluster,
                                                                            docker_client: Any) -> None:
    c = agent_cluster
    c.kubectl("apply", "-f", "-", input=_deployment("twenty", 20))
    wait_for("20 pods Running", lambda: _all_running(c.get("pods", "-l", "app=twenty")["items"], 20), timeout=180)
    pods = c.get("pods", "-l", "app=twenty")["items"]
    uids = {p["metadata"]["uid"] for p in pods}
    before = {uid: _containers(docker_client, f"io.kubernetes.pod.uid={uid}") for uid in uids}
    assert all(len(v) == 2 for v in before.values())  # a sandbox and the app container each

    os.killpg(c.agent.pid, signal.SIGKILL)
    c.agent.wait(timeout=10)
    victim = pods[0]
    vm = victim["metadata"]
    docker_client.containers.get(f"k8s_main_{vm['name']}_default_{vm['uid']}_0").kill()  # while nobody watches
    c.start_agent()
    wait_for("the agent back", lambda: c.log_file.read_text(errors="replace").count(f"node {c.node} registered (") >= 2,
             timeout=30, every=0.1)
    back = time.monotonic()

    def victim_counted() -> Any:
        p = c.get("pod", vm["name"])
        cs = p["status"]["containerStatuses"][0]
        return cs["restartCount"] == 1 and "running" in cs["state"] and p
    wait_for("the killed container restarted and counted", victim_counted, timeout=10)
    assert time.monotonic() - back <= 10.5
    after = {uid: _containers(docker_client, f"io.kubernetes.pod.uid={uid}") for uid in uids}
    for uid in uids - {vm["uid"]}:
        assert after[uid] == before[uid], uid  # not one of them was restarted, none duplicated
    victim_after = after[vm["uid"]]
    assert len(victim_after) == 3  # sandbox, the killed attempt (its lastState), the new one
    sandbox = next(n for n in before[vm["uid"]] if n.startswith("k8s_POD_"))
    assert victim_after[sandbox] == before[vm["uid"]][sandbox]  # the pod kept its sandbox
    assert _all_running(c.get("pods", "-l", "app=twenty")["items"], 20)
    c.kubectl("delete", "deployment", "twenty")


def test_a_command_that_does_not_exist_says_why_and_the_others_start(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "badcmd"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [
               {"name": "main", "image": "busybox:latest", "command": ["/no/such/binary"]}]}}
    c.kubectl("apply", "-f", "-", input=json.dumps(bad))
    c.kubectl("apply", "-f", "-", input=_deployment("neighbours", 2))

    def crash_looping() -> Any:
        cs = (c.get("pod", "badcmd")["status"].get("containerStatuses") or [{}])[0]
        return cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" and cs
    cs = wait_for("badcmd in CrashLoopBackOff", crash_looping, timeout=60)
    last = cs["lastState"]["terminated"]
    assert last["reason"] == "StartError" and "/no/such/binary" in last["message"], last
    events = c.get("events", "--field-selector", "involvedObject.name=badcmd")["items"]
    failed = [e["message"] for e in events if e["reason"] == "Failed"]
    assert any("/no/such/binary" in m and m.startswith("Error: ") for m in failed), failed
    assert any(e["reason"] == "BackOff" for e in events)
    wait_for("the neighbours Running", lambda: _all_running(c.get("pods", "-l", "app=neighbours")["items"], 2),
             timeout=60)
    c.kubectl("delete", "pod", "badcmd", "--wait=false")
    c.kubectl("delete", "deployment", "neighbours")


# ---- a restart of the Docker daemon ----------------------------------------------------------------

@pytest.fixture
def private_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDockerd]:
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        pytest.skip("a private dockerd needs root and nsenter")
    d = PrivateDockerd(Path(f"/tmp/mkpy-dockerd-{uuid.uuid4().hex[:6]}"))  # short: the socket path limit
    try:
        d.start()
        d.load("busybox:latest", "registry.k8s.io/pause:3.10")
        yield d
    finally:
        d.destroy()


def test_a_restart_of_the_docker_daemon_is_survived(private_dockerd: PrivateDockerd, kubectl_bin: Path,
                                                    tmp_path: Path) -> None:
    d = private_dockerd
    server = start_server(tmp_path / "master", "sqlite", control_plane=True, extra=("--timing", "fast"))
    log_file = tmp_path / "agent.log"
    node = f"dockerd-{uuid.uuid4().hex[:6]}"
    agent: subprocess.Popen[bytes] | None = None

    def kubectl(*args: str, input: str | None = None) -> str:
        proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        with log_file.open("ab") as log:
            agent = subprocess.Popen(
                [sys.executable, "-m", "minikube_py.cli.main", "agent", "--kubeconfig", str(server.kubeconfig),
                 "--node-name", node, "--node-ip", "127.0.0.1", "--timing", "fast",
                 "--streaming-port", str(free_port()), "--data-dir", str(tmp_path / "agent")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, DOCKER_HOST=d.host, PYTHONUNBUFFERED="1"))
        kubectl("apply", "-f", "-", input=_deployment("survivor", 2))

        def pods_running() -> bool:
            return _all_running(json.loads(kubectl("get", "pods", "-l", "app=survivor", "-o", "json"))["items"], 2)
        wait_for("2 pods Running on the private daemon", pods_running, timeout=120)
        with contextlib.closing(d.client()) as client:
            first = set(_containers(client, "io.kubernetes.docker.type=podsandbox"))
        d.stop()  # its containers stop with it
        time.sleep(3)
        assert agent.poll() is None, "the agent died with the Docker daemon"
        d.start()

        def back() -> bool:  # new sandboxes running (the old ones stopped with the daemon), pods Running
            with contextlib.closing(d.client()) as client:
                running = {x.name for x in client.containers.list(
                    ignore_removed=True, filters={"label": "io.kubernetes.docker.type=podsandbox"})}
            return len(running) == 2 and not running & first and pods_running()
        wait_for("the pods Running again on new sandboxes", back, timeout=120)
        assert agent.poll() is None
        text = log_file.read_text(errors="replace")
        assert "Docker event stream lost" in text
        assert "Traceback" not in text, text[-3000:]
    finally:
        if agent is not None:
            stop_server(agent)
        stop_server(server.process)
