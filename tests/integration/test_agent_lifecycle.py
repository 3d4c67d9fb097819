"""Container lifecycle on the real Docker engine: probes (readiness flips Ready and kubectl's READY
column, a failing liveness probe restarts the container with backoff, a startup probe gates the
others), init containers and native sidecars, hooks, /etc/hosts, termination messages and
Job-style pods that finish.

Same cluster shape as tests/integration/test_agent.py (its fixtures, imported): a control plane with
--timing fast (crash-loop backoff 2 s doubling) and one `minikube-py agent`; teardown removes only
what carries this agent's label.  Probe periods are 1 s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("docker")

from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, wait_for  # noqa: E402

agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]  # stops on SIGTERM


def _apply(c: AgentCluster, pod: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps(pod))


def _pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


def _main(**extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:latest", "command": SLEEP, **extra}


def _status(c: AgentCluster, name: str, container: str = "main", init: bool = False) -> dict[str, Any]:
    field = "initContainerStatuses" if init else "containerStatuses"
    for s in c.get("pod", name)["status"].get(field) or []:
        if s["name"] == container:
            return dict(s)
    return {}


def _condition(c: AgentCluster, name: str, kind: str) -> str:
    for cond in c.get("pod", name)["status"].get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return ""


def _events(c: AgentCluster, name: str) -> list[dict[str, Any]]:
    uid = c.get("pod", name)["metadata"]["uid"]
    return list(c.get("events", "--field-selector", f"involvedObject.uid={uid}")["items"])


def _container(docker_client: Any, c: AgentCluster, pod: str, name: str = "main") -> Any:
    cid = _status(c, pod, name).get("containerID", "").removeprefix("docker://")
    return docker_client.containers.get(cid)


def _ready_column(c: AgentCluster, name: str) -> str:
    return c.kubectl("get", "pod", name, "--no-headers").stdout.split()[1]


def test_readiness_probe_flips_ready_and_kubectls_ready_column(agent_cluster: AgentCluster,
                                                               docker_client: Any) -> None:
    c = agent_cluster
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    _apply(c, _pod("ready", [_main(readinessProbe=probe)]))
    wait_for("running", lambda: "running" in _status(c, "ready").get("state", {}))
    assert _status(c, "ready")["ready"] is False and _status(c, "ready")["started"] is True
    assert _condition(c, "ready", "Ready") == "False" and _ready_column(c, "ready") == "0/1"
    _container(docker_client, c, "ready").exec_run(["touch", "/tmp/ready"])
    wait_for("Ready", lambda: _condition(c, "ready", "Ready") == "True", 20)
    assert _condition(c, "ready", "ContainersReady") == "True" and _ready_column(c, "ready") == "1/1"
    _container(docker_client, c, "ready").exec_run(["rm", "/tmp/ready"])
    wait_for("not Ready again", lambda: _condition(c, "ready", "Ready") == "False", 20)
    assert _status(c, "ready")["restartCount"] == 0  # readiness never restarts
    unhealthy = [e["message"] for e in _events(c, "ready") if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0].startswith("Readiness probe failed: cat: can't open '/tmp/ready'"), unhealthy


def test_failing_liveness_probe_restarts_the_container_with_backoff(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    # busybox httpd serves /tmp: /healthz is missing, so the probe gets a 404
    web = {"name": "main", "image": "busybox:latest", "command": ["httpd", "-f", "-p", "8080", "-h", "/tmp"],
           "ports": [{"name": "web", "containerPort": 8080}],
           "livenessProbe": {"httpGet": {"path": "/healthz", "port": "web"}, "periodSeconds": 1,
                             "failureThreshold": 2}}
    _apply(c, _pod("alive", [web], terminationGracePeriodSeconds=1))
    wait_for("restartCount >= 3", lambda: _status(c, "alive").get("restartCount", 0) >= 3, 90)
    events = _events(c, "alive")
    messages = {e["reason"]: e["message"] for e in events}
    assert messages["Unhealthy"].endswith("Liveness probe failed: HTTP probe failed with statuscode: 404"), messages
    killing = [e["message"] for e in events if e["reason"] == "Killing"]
    assert "Container main failed liveness probe, will be restarted" in killing, killing
    wait_for("BackOff event", lambda: any(e["reason"] == "BackOff" for e in _events(c, "alive")), 30)
    last = _status(c, "alive")["lastState"]["terminated"]
    assert last["exitCode"] != 0 and last["reason"] == "Error"


def test_startup_probe_gates_liveness_and_readiness(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    main = _main(command=["sh", "-c", "sleep 4; touch /tmp/up; trap 'exit 0' TERM; while true; do sleep 1; done"],
                 startupProbe={"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                               "failureThreshold": 30},
                 livenessProbe={"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                                "failureThreshold": 1},
                 readinessProbe={"tcpSocket": {"port": 9}, "periodSeconds": 1})  # nothing listens on 9
    _apply(c, _pod("startup", [main]))
    wait_for("running", lambda: "running" in _status(c, "startup").get("state", {}))
    assert _status(c, "startup")["started"] is False and _status(c, "startup")["ready"] is False
    wait_for("started", lambda: _status(c, "startup").get("started") is True, 30)
    # the liveness probe (which would have failed during the first 4 s) never killed it
    assert _status(c, "startup")["restartCount"] == 0
    wait_for("readiness failing on port 9", lambda: any(
        e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed: dial tcp ")
        and e["message"].endswith(":9: connect: connection refused") for e in _events(c, "startup")), 20)
    assert _status(c, "startup")["ready"] is False and _condition(c, "startup", "Ready") == "False"
