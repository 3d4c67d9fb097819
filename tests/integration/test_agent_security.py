"""Security on the real Docker engine: the host-safety refusals (a pod that would get the host is
Blocked with a condition and an event, the node's other pods run), the securityContext in Docker's
settings and inside the container, and the image switch: offline by default (a present `:latest`
image runs with a PullSkipped warning), and with `--pull` a refused registry gives ErrImagePull
then ImagePullBackOff (the registry is 127.0.0.1:1: nothing leaves the machine).

Same cluster shape as tests/integration/test_agent.py (its fixtures): a control plane with
--timing fast and one `minikube-py agent`; teardown removes only what carries this agent's label.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

pytest.importorskip("docker")

from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, _running, wait_for  # noqa: E402

agent_cluster = base.agent_cluster
docker_client = base.docker_client
CONDITION = "minikube-py.io/HostAccessAllowed"


def _apply(c: AgentCluster, pod: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps(pod))


def _pod(name: str, container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    main = {"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"], **(container or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [main], **spec}}


def _events(c: AgentCluster, name: str) -> list[dict[str, Any]]:
    return list(c.get("events", "--field-selector", f"involvedObject.name={name}")["items"])


def _waiting(c: AgentCluster, name: str, reason: str) -> Any:
    s = (c.get("pod", name)["status"].get("containerStatuses") or [{}])[0]
    return s.get("state", {}).get("waiting", {}).get("reason") == reason and s["state"]["waiting"]


def test_pods_that_would_get_the_host_are_blocked_and_the_others_run(agent_cluster: AgentCluster,
                                                                     docker_client: Any) -> None:
    c = agent_cluster
    _apply(c, _pod("privileged", {"securityContext": {"privileged": True}}))
    _apply(c, _pod("hostpid", hostPID=True))
    _apply(c, _pod("dockersock", {"volumeMounts": [{"name": "sock", "mountPath": "/var/run/docker.sock"}]},
                   volumes=[{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]))
    _apply(c, _pod("plain"))
    for name, reason in (("privileged", "PrivilegedNotAllowed"), ("hostpid", "HostPIDNotAllowed"),
                         ("dockersock", "HostPathNotAllowed")):
        waiting = wait_for(f"{name} to be Blocked", lambda n=name: _waiting(c, n, "Blocked"), timeout=30)
        assert "--allow-privileged" in waiting["message"]
        status = c.get("pod", name)["status"]
        assert status["phase"] == "Pending" and status["reason"] == "Forbidden"
        cond = [x for x in status["conditions"] if x["type"] == CONDITION]
        assert [(x["status"], x["reason"]) for x in cond] == [("False", reason)]
        forbidden = [e for e in _events(c, name) if e["reason"] == "Forbidden"]
        assert [(e["type"], e.get("count", 1)) for e in forbidden] == [("Warning", 1)]  # said once
        uid = c.get("pod", name)["metadata"]["uid"]
        assert docker_client.containers.list(ignore_removed=True, all=True, filters={"label": f"io.kubernetes.pod.uid={uid}"}) == []
    wait_for("the plain pod Running", lambda: _running(c, "plain"), timeout=30)
    printed = c.kubectl("get", "pod", "hostpid").stdout
    assert "Blocked" in printed
    c.kubectl("delete", "pod", "privileged", "hostpid", "dockersock", "plain", "--wait=false")


def test_security_context_reaches_docker_and_the_process(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    _apply(c, _pod("secure", {"securityContext": {"runAsUser": 1234, "readOnlyRootFilesystem": True,
                                                  "allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
                   securityContext={"runAsGroup": 5678, "supplementalGroups": [4000]}))
    pod = wait_for("secure Running", lambda: _running(c, "secure"), timeout=30)
    m = pod["metadata"]
    container = docker_client.containers.get(f"k8s_main_secure_default_{m['uid']}_0")
    host = container.attrs["HostConfig"]
    assert container.attrs["Config"]["User"] == "1234:5678"
    assert host["ReadonlyRootfs"] is True and host["GroupAdd"] == ["4000"]
    assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["CAP_NET_BIND_SERVICE"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    code, out = container.exec_run(["sh", "-c", "id -u; id -g; touch /x 2>&1; echo rc=$?"])
    lines = out.decode().split()
    assert lines[:2] == ["1234", "5678"] and "rc=1" in lines and "Read-only" in out.decode()
    # runAsNonRoot on an image that runs as root: the kubelet's CreateContainerConfigError
    _apply(c, _pod("nonroot", securityContext={"runAsNonRoot": True}))
    waiting = wait_for("nonroot refused", lambda: _waiting(c, "nonroot", "CreateContainerConfigError"), timeout=30)
    assert waiting["message"].startswith("container has runAsNonRoot and image will run as root")
    c.kubectl("delete", "pod", "secure", "nonroot", "--wait=false")


def test_offline_a_present_latest_image_runs_with_a_pull_skipped_warning(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    _apply(c, _pod("offline"))  # busybox:latest: policy Always by default
    wait_for("offline Running", lambda: _running(c, "offline"), timeout=30)
    skipped = [e for e in _events(c, "offline") if e["reason"] == "PullSkipped"]
    assert skipped and skipped[0]["type"] == "Warning" and "--pull" in skipped[0]["message"]
    c.kubectl("delete", "pod", "offline", "--wait=false")


def test_with_pull_on_a_refused_registry_gives_err_image_pull_then_backoff(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    os.killpg(c.agent.pid, signal.SIGTERM)
    c.agent.wait(timeout=30)
    c.agent_args = ("--pull",)
    try:
        c.start_agent()
        _apply(c, _pod("pulling", {"image": "127.0.0.1:1/minikube-py/absent:1"}))
        _apply(c, _pod("fine", {"imagePullPolicy": "IfNotPresent"}))  # never a registry but 127.0.0.1:1
        wait_for("ErrImagePull", lambda: _waiting(c, "pulling", "ErrImagePull") or _waiting(
            c, "pulling", "ImagePullBackOff"), timeout=60)
        waiting = wait_for("ImagePullBackOff", lambda: _waiting(c, "pulling", "ImagePullBackOff"), timeout=60)
        assert waiting["message"] == 'Back-off pulling image "127.0.0.1:1/minikube-py/absent:1"'
        events = _events(c, "pulling")
        reasons = [e["reason"] for e in events]
        assert "Pulling" in reasons and "BackOff" in reasons
        failed = [e["message"] for e in events if e["reason"] == "Failed"]
        assert any(m.startswith('Failed to pull image "127.0.0.1:1/minikube-py/absent:1"') for m in failed)
        assert "Error: ErrImagePull" in failed and "Error: ImagePullBackOff" in failed
        wait_for("the other pod Running", lambda: _running(c, "fine"), timeout=30)
        c.kubectl("delete", "pod", "pulling", "fine", "--wait=false")
    finally:
        os.killpg(c.agent.pid, signal.SIGTERM)
        c.agent.wait(timeout=30)
        c.agent_args = ()
        c.start_agent()
