"""The container spec on the real Docker engine: env from ConfigMaps, Secrets, the downward API and
resources (envFrom first, then env), a missing ConfigMap/Secret or key (CreateContainerConfigError
while the other pods run, then started once it exists), hostPort bindings on the sandbox (on
127.0.0.1 only) and resource limits in Docker's HostConfig.

Same cluster shape as tests/integration/test_agent.py (its fixtures, imported): a control plane with
--timing fast and one `minikube-py agent`; teardown removes only what carries this agent's label.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from typing import Any

import pytest

pytest.importorskip("docker")

from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, _running, wait_for  # noqa: E402

agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client


def _apply(c: AgentCluster, *objects: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def _pod(name: str, container: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name},
                                                             "annotations": {"team": "blue"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "busybox:latest",
                                                                         "command": ["sleep", "3600"],
                                                                         **container}]}}


def _container(docker_client: Any, pod: Any, name: str = "main") -> Any:
    m = pod["metadata"]
    return docker_client.containers.get(f"k8s_{name}_{m['name']}_default_{m['uid']}_0")


def _env(container: Any) -> dict[str, str]:
    return dict(x.split("=", 1) for x in container.attrs["Config"]["Env"])


def _waiting(c: AgentCluster, name: str, reason: str) -> Any:
    s = (c.get("pod", name)["status"].get("containerStatuses") or [{}])[0]
    return s.get("state", {}).get("waiting", {}).get("reason") == reason and s["state"]["waiting"]


def test_env_from_config_maps_secrets_fields_and_resources(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
          "data": {"MODE": "from-cm", "LEVEL": "3", "1bad": "skipped-by-old-kubelets"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret"},
              "data": {"PASSWORD": base64.b64encode(b"s3cret").decode(), "MODE": base64.b64encode(b"x").decode()}}
    pod = _pod("envpod", {
        "envFrom": [{"configMapRef": {"name": "app-config"}}, {"prefix": "S_", "secretRef": {"name": "app-secret"}},
                    {"configMapRef": {"name": "absent-but-optional", "optional": True}}],
        "env": [{"name": "LEVEL", "value": "override-$(MODE)"},
                {"name": "FROM_KEY", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "MODE"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "PASSWORD"}}},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "nope",
                                                               "optional": True}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
                {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                      "divisor": "1Mi"}}},
                {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
        "resources": {"limits": {"memory": "64Mi", "cpu": "1500m"}, "requests": {"cpu": "250m"}}})
    _apply(c, cm, secret, pod)
    running = wait_for("envpod Running", lambda: _running(c, "envpod"), timeout=60)
    env = _env(_container(docker_client, running))
    meta = running["metadata"]
    assert {k: env.get(k) for k in ("MODE", "LEVEL", "S_PASSWORD", "S_MODE", "FROM_KEY", "PASS")} == \
        {"MODE": "from-cm", "LEVEL": "override-from-cm", "S_PASSWORD": "s3cret", "S_MODE": "x",
         "FROM_KEY": "from-cm", "PASS": "s3cret"}
    assert env["1bad"] == "skipped-by-old-kubelets"  # today's kubelet takes every key
    assert "OPT" not in env
    assert env["POD_NAME"] == "envpod" and env["POD_NS"] == "default" and env["POD_UID"] == meta["uid"]
    assert env["APP"] == "envpod" and env["TEAM"] == "blue" and env["NODE"] == c.node
    assert env["SA"] == running["spec"].get("serviceAccountName", "")
    assert env["POD_IP"] == env["POD_IPS"] == running["status"]["podIP"]
    assert env["HOST_IP"] == running["status"]["hostIP"] == "127.0.0.1"
    assert env["MEM_MI"] == "64" and env["CPU_M"] == "250" and env["CPU"] == "2"
    c.kubectl("delete", "pod", "envpod", "--wait=false")


def test_a_missing_config_map_or_key_is_create_container_config_error_and_the_others_run(
        agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    _apply(c, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "has-no-key"}, "data": {"a": "1"}},
           _pod("nocm", {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "late-cm", "key": "k"}}}]}),
           _pod("nokey", {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "has-no-key",
                                                                                   "key": "k"}}}]}),
           _pod("nosecret", {"envFrom": [{"secretRef": {"name": "absent-secret"}}]}),
           _pod("fine2", {}))
    assert wait_for("nocm waiting", lambda: _waiting(c, "nocm", "CreateContainerConfigError"))["message"] == \
        'configmap "late-cm" not found'
    assert wait_for("nokey waiting", lambda: _waiting(c, "nokey", "CreateContainerConfigError"))["message"] == \
        "couldn't find key k in ConfigMap default/has-no-key"
    assert wait_for("nosecret waiting", lambda: _waiting(c, "nosecret", "CreateContainerConfigError"))["message"] \
        == 'secret "absent-secret" not found'
    assert c.get("pod", "nocm")["status"]["phase"] == "Pending"
    wait_for("the other pod Running", lambda: _running(c, "fine2"), timeout=30)
    events = c.get("events", "--field-selector", "involvedObject.name=nocm")["items"]
    assert any(e["reason"] == "Failed" and e["type"] == "Warning" and
               e["message"] == 'Error: configmap "late-cm" not found' for e in events)
    # retried with backoff: once the ConfigMap exists, the pod starts
    _apply(c, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late-cm"}, "data": {"k": "v"}})
    wait_for("nocm Running once its ConfigMap exists", lambda: _running(c, "nocm"), timeout=60)
    c.kubectl("delete", "pod", "nocm", "nokey", "nosecret", "fine2", "--wait=false")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_host_ports_are_bound_on_the_sandbox(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    tcp, udp = _free_port(), _free_port()
    _apply(c, _pod("hostport", {
        "command": ["sh", "-c", "mkdir -p /w && echo hello-hostport > /w/index.html && exec httpd -f -p 80 -h /w"],
        "ports": [{"containerPort": 80, "hostPort": tcp, "hostIP": "127.0.0.1"},
                  {"containerPort": 53, "hostPort": udp, "hostIP": "127.0.0.1", "protocol": "UDP"},
                  {"containerPort": 9000}]}))
    pod = wait_for("hostport Running", lambda: _running(c, "hostport"), timeout=60)
    sandbox = _container(docker_client, pod, "POD")
    assert sandbox.attrs["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(tcp)}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": str(udp)}]}

    def get() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{tcp}/", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return ""
    assert wait_for("an answer through the host port", get, timeout=20).strip() == "hello-hostport"
    c.kubectl("delete", "pod", "hostport", "--timeout=60s")


def test_a_taken_host_port_fails_the_sandbox_with_an_event_and_the_others_run(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    with socket.socket() as held:  # a port of ours on loopback, taken before the pod asks for it
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        _apply(c, _pod("portclash", {"ports": [{"containerPort": 80, "hostPort": port, "hostIP": "127.0.0.1"}]}),
               _pod("fine3", {}))

        def failed() -> Any:
            events = c.get("events", "--field-selector", "involvedObject.name=portclash")["items"]
            return next((e for e in events if e["reason"] == "FailedCreatePodSandBox"), None)
        event = wait_for("a FailedCreatePodSandBox event", failed, timeout=60)
        assert event["type"] == "Warning" and event["message"].startswith("Failed to create pod sandbox: "), event
        assert str(port) in event["message"], event
        wait_for("the other pod Running", lambda: _running(c, "fine3"), timeout=30)
        assert c.get("pod", "portclash")["status"].get("phase") == "Pending"
    c.kubectl("delete", "pod", "portclash", "fine3", "--wait=false")


def test_resource_limits_become_dockers_memory_and_cpu_limits(agent_cluster: AgentCluster,
                                                              docker_client: Any) -> None:
    c = agent_cluster
    _apply(c, _pod("limited", {"resources": {"limits": {"memory": "64Mi", "cpu": "500m"},
                                             "requests": {"memory": "32Mi", "cpu": "250m"}}}),
           _pod("unlimited", {}))
    pod = wait_for("limited Running", lambda: _running(c, "limited"), timeout=60)
    host = _container(docker_client, pod).attrs["HostConfig"]
    assert (host["Memory"], host["CpuPeriod"], host["CpuQuota"], host["CpuShares"]) == (64 * 2**20, 100000, 50000, 256)
    free = _container(docker_client, wait_for("unlimited Running", lambda: _running(c, "unlimited"))).attrs
    assert (free["HostConfig"]["Memory"], free["HostConfig"]["CpuQuota"], free["HostConfig"]["CpuShares"]) == \
        (0, 0, 2)
    c.kubectl("delete", "pod", "limited", "unlimited", "--wait=false")
