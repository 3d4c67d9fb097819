"""The kubelet's environment (agents/kubelet/env.py) and the container config parts of
agents/kubelet/runtime.py (port bindings, resource limits), without Docker."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from agents.kubelet.env import EnvError, PodFacts, container_env, field_value, resource_value
from agents.kubelet.runtime import milli_cpu_to_shares, port_bindings, resource_config

Obj = dict[str, Any]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


OBJECTS: dict[tuple[str, str, str], Obj] = {
    ("ConfigMap", "ns", "cfg"): {"data": {"A": "from-cm", "B": "b", "1bad": "x", "has space": "y"}},
    ("Secret", "ns", "sec"): {"data": {"PASS": _b64("s3cret"), "A": _b64("from-secret")}},
}


def lookup(kind: str, namespace: str, name: str) -> Obj | None:
    return OBJECTS.get((kind, namespace, name))


def pod(container: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"},
                         "annotations": {"team": "blue"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "robot", "containers": [container], **spec}}


FACTS = PodFacts(pod_ips=("10.244.0.5",), host_ip="192.168.1.2", allocatable={"cpu": "4", "memory": "8Gi"})


def env_of(container: Obj) -> dict[str, str]:
    return container_env(pod(container), container, lookup, FACTS)


def test_env_from_comes_first_and_env_wins_later_entries_replace_earlier() -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}}],
         "env": [{"name": "B", "value": "plain"}, {"name": "C", "value": "$(A)-$(B)"}]}
    env = env_of(c)
    assert env["A"] == "from-secret"  # the later envFrom source wins
    assert env["PASS"] == "s3cret"
    assert env["B"] == "plain"
    assert env["C"] == "from-secret-plain"


def test_env_from_takes_every_key_with_its_prefix_as_todays_kubelet() -> None:
    c = {"name": "c", "envFrom": [{"prefix": "CM_", "configMapRef": {"name": "cfg"}}]}
    assert container_env(pod(c), c, lookup, FACTS) == {"CM_A": "from-cm", "CM_B": "b", "CM_1bad": "x",
                                                       "CM_has space": "y"}
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}}]}
    assert container_env(pod(c), c, lookup, FACTS)["1bad"] == "x"  # no IsEnvVarName check since 1.34


def test_missing_objects_and_keys_fail_unless_optional() -> None:
    with pytest.raises(EnvError, match='^configmap "nope" not found$'):
        env_of({"name": "c", "envFrom": [{"configMapRef": {"name": "nope"}}]})
    with pytest.raises(EnvError, match='^secret "nope" not found$'):
        env_of({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]})
    with pytest.raises(EnvError, match="^couldn't find key k in ConfigMap ns/cfg$"):
        env_of({"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]})
    with pytest.raises(EnvError, match="^couldn't find key k in Secret ns/sec$"):
        env_of({"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}]})
    env = env_of({"name": "c", "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
                  "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k", "optional": True}}},
                          {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k",
                                                                          "optional": True}}},
                          {"name": "Z", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASS"}}}]})
    assert env == {"Z": "s3cret"}


def test_field_refs() -> None:
    p = pod({"name": "c"})
    wanted = {"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u-1",
              "metadata.labels['app']": "web", "metadata.annotations['team']": "blue",
              "metadata.labels['absent']": "", "spec.nodeName": "n1", "spec.serviceAccountName": "robot",
              "status.podIP": "10.244.0.5", "status.hostIP": "192.168.1.2", "status.podIPs": "10.244.0.5"}
    for path, value in wanted.items():
        assert field_value(p, path, FACTS) == value, path
    assert field_value(p, "status.podIPs", PodFacts(pod_ips=("10.0.0.1", "fd00::1"))) == "10.0.0.1,fd00::1"
    with pytest.raises(EnvError):
        field_value(p, "spec.bogus", FACTS)


def test_resource_field_refs_with_divisors_and_node_allocatable_for_unset_limits() -> None:
    c = {"name": "c", "resources": {"limits": {"cpu": "1500m", "memory": "256Mi"}, "requests": {"cpu": "250m"}}}
    p = pod(c)

    def value(resource: str, divisor: str | None = None, container: str | None = None) -> str:
        ref: Obj = {"resource": resource}
        if divisor:
            ref["divisor"] = divisor
        if container:
            ref["containerName"] = container
        return resource_value(p, c, ref, FACTS)
    assert value("limits.cpu") == "2"  # ceil(1500m / 1)
    assert value("limits.cpu", "1m") == "1500"
    assert value("requests.cpu", "1m") == "250"
    assert value("requests.cpu") == "1"
    assert value("limits.memory") == str(256 * 2**20)
    assert value("limits.memory", "1Mi") == "256"
    assert value("requests.memory", "1Mi") == "256"  # requests default to limits
    bare = {"name": "c"}
    assert resource_value(pod(bare), bare, {"resource": "limits.cpu"}, FACTS) == "4"
    assert resource_value(pod(bare), bare, {"resource": "limits.memory", "divisor": "1Gi"}, FACTS) == "8"
    assert resource_value(pod(bare), bare, {"resource": "requests.cpu"}, FACTS) == "0"
    with pytest.raises(EnvError):
        value("limits.gpu")
    env = env_of({"name": "c", "resources": {"limits": {"memory": "1Gi"}},
                  "env": [{"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                           "divisor": "1Mi"}}}]})
    assert env == {"M": "1024"}


def test_port_bindings_only_for_host_ports() -> None:
    p = pod({"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"},
                                    {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"},
                                    {"containerPort": 9000}]})
    assert port_bindings(p) == {"80/tcp": [("127.0.0.1", 8080)], "53/udp": [("0.0.0.0", 5353)]}
    init = pod({"name": "c"}, initContainers=[{"name": "i", "ports": [{"containerPort": 1, "hostPort": 1}]}])
    assert port_bindings(init) == {}
    host = pod({"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}, hostNetwork=True)
    assert port_bindings(host) == {}


def test_resources_become_docker_limits_as_dockershim_made_them() -> None:
    cfg = resource_config({"resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                         "requests": {"cpu": "250m"}}})
    assert cfg == {"mem_limit": 128 * 2**20, "cpu_period": 100000, "cpu_quota": 50000, "cpu_shares": 256}
    assert resource_config({"resources": {"limits": {"cpu": "2"}}}) == \
        {"cpu_period": 100000, "cpu_quota": 200000, "cpu_shares": 2048}
    assert resource_config({"resources": {"limits": {"cpu": "1m"}}})["cpu_quota"] == 1000  # MinQuotaPeriod
    assert resource_config({}) == {"cpu_shares": 2}
    assert milli_cpu_to_shares(0) == 2 and milli_cpu_to_shares(1) == 2 and milli_cpu_to_shares(100) == 102
