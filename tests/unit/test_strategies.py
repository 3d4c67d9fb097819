"""Per-kind storage rules, through the generic registry on the real sqlite store: a Service's
addresses (held, given back when the write fails, released on delete), a Pod's default
tolerations and graceful delete, a claim's default class, a Namespace's immortality and
termination, and a kind without rules stored as it comes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from minikube_py.api import errors as E
from minikube_py.api import kinds
from minikube_py.apiserver.allocator import IP_PREFIX, PORT_PREFIX
from minikube_py.apiserver.registry import DeleteOptions, Registry, WriteOptions, ensure_system_namespaces
from minikube_py.apiserver.strategies import PLAIN
from minikube_py.store import open_store

SERVICE, POD, PVC = kinds.require("v1", "Service"), kinds.require("v1", "Pod"), kinds.require("v1", "PersistentVolumeClaim")
NAMESPACE, CONFIGMAP = kinds.require("v1", "Namespace"), kinds.require("v1", "ConfigMap")
SC = kinds.require("storage.k8s.io/v1", "StorageClass")
SA = kinds.require("v1", "ServiceAccount")


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    store = open_store("sqlite", tmp_path)
    reg = Registry(store, default_toleration_seconds=42)
    await ensure_system_namespaces(reg)
    yield reg
    await store.close()


async def held_keys(reg: Registry) -> list[str]:
    ips, ports = await reg.store.list(IP_PREFIX), await reg.store.list(PORT_PREFIX)
    return sorted(kv.key for kv in ips.items + ports.items)


def node_port_service(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}


async def test_a_service_holds_its_addresses_until_deleted(registry: Registry) -> None:
    svc = await registry.create(SERVICE, "default", node_port_service("web"), WriteOptions())
    ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert await held_keys(registry) == sorted([IP_PREFIX + ip, PORT_PREFIX + str(port)])

    _, deleted_now = await registry.delete(SERVICE, "default", "web", DeleteOptions())

    assert deleted_now and await held_keys(registry) == []


async def test_a_service_create_that_fails_gives_its_addresses_back(registry: Registry) -> None:
    await registry.create(SERVICE, "default", node_port_service("web"), WriteOptions())
    before = await held_keys(registry)

    with pytest.raises(E.AlreadyExists):
        await registry.create(SERVICE, "default", node_port_service("web"), WriteOptions())

    assert await held_keys(registry) == before


async def test_a_service_update_keeps_its_addresses_and_releases_dropped_ports(registry: Registry) -> None:
    svc = await registry.create(SERVICE, "default", node_port_service("web"), WriteOptions())
    ip = svc["spec"]["clusterIP"]
    bare = {"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}

    updated = await registry.replace(SERVICE, "default", "web", bare, WriteOptions())

    assert updated["spec"]["clusterIP"] == ip and "nodePort" not in updated["spec"]["ports"][0]
    assert await held_keys(registry) == [IP_PREFIX + ip]


async def test_a_pod_gets_the_default_tolerations_of_its_registry(registry: Registry) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}

    created = await registry.create(POD, "default", pod, WriteOptions())

    assert {(t["key"], t["tolerationSeconds"]) for t in created["spec"]["tolerations"]} == {
        ("node.kubernetes.io/not-ready", 42), ("node.kubernetes.io/unreachable", 42)}


async def test_a_bound_pod_terminates_gracefully_and_an_unbound_one_goes_at_once(registry: Registry) -> None:
    spec = {"containers": [{"name": "c", "image": "busybox"}], "terminationGracePeriodSeconds": 7}
    await registry.create(POD, "default", {"metadata": {"name": "bound"}, "spec": dict(spec, nodeName="n1")},
                          WriteOptions())
    await registry.create(POD, "default", {"metadata": {"name": "free"}, "spec": spec}, WriteOptions())

    bound, bound_gone = await registry.delete(POD, "default", "bound", DeleteOptions())
    _, free_gone = await registry.delete(POD, "default", "free", DeleteOptions())

    assert not bound_gone and bound["metadata"]["deletionGracePeriodSeconds"] == 7
    assert free_gone


async def test_a_claim_without_a_class_gets_the_default_one(registry: Registry) -> None:
    await registry.create(SC, None, {"metadata": {"name": "fast", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x"}, WriteOptions())
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}

    created = await registry.create(PVC, "default", claim, WriteOptions())

    assert created["spec"]["storageClassName"] == "fast"


async def test_the_default_namespace_cannot_be_deleted(registry: Registry) -> None:
    with pytest.raises(E.Forbidden):
        await registry.delete(NAMESPACE, None, "default", DeleteOptions())


async def test_a_namespace_with_spec_finalizers_terminates_instead_of_going(registry: Registry) -> None:
    await registry.create(NAMESPACE, None, {"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}},
                          WriteOptions())

    ns, deleted_now = await registry.delete(NAMESPACE, None, "team", DeleteOptions())

    assert not deleted_now and ns["status"]["phase"] == "Terminating"


async def test_a_kind_without_rules_is_stored_as_it_comes(registry: Registry) -> None:
    assert registry.strategy(CONFIGMAP) is PLAIN
    await registry.create(CONFIGMAP, "default", {"metadata": {"name": "cm"}, "data": {"a": "1"}}, WriteOptions())

    _, deleted_now = await registry.delete(CONFIGMAP, "default", "cm", DeleteOptions())

    assert deleted_now


def pod_named(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


async def test_a_pod_naming_no_service_account_runs_as_default_under_both_fields(registry: Registry) -> None:
    pod = await registry.create(POD, "default", pod_named("p"), WriteOptions())
    assert pod["spec"]["serviceAccountName"] == "default" and pod["spec"]["serviceAccount"] == "default"


async def test_the_deprecated_service_account_field_names_the_account(registry: Registry) -> None:
    await registry.create(SA, "default", {"metadata": {"name": "robot"}}, WriteOptions())
    pod = await registry.create(POD, "default", pod_named("p", serviceAccount="robot"), WriteOptions())
    assert pod["spec"]["serviceAccountName"] == "robot" and pod["spec"]["serviceAccount"] == "robot"


async def test_a_pod_naming_a_missing_service_account_is_forbidden_with_kubes_message(registry: Registry) -> None:
    with pytest.raises(E.Forbidden) as err:
        await registry.create(POD, "default", pod_named("p", serviceAccountName="robot"), WriteOptions())
    assert str(err.value) == ('pods "p" is forbidden: error looking up service account default/robot: '
                              'serviceaccount "robot" not found')
    assert err.value.code == 403
    with pytest.raises(E.NotFound):
        await registry.get(POD, "default", "p")


async def test_a_service_account_name_that_is_no_dns_subdomain_is_invalid(registry: Registry) -> None:
    with pytest.raises(E.Invalid) as err:
        await registry.create(POD, "default", pod_named("p", serviceAccountName="Robot_1"), WriteOptions())
    assert [c["field"] for c in (err.value.details or {})["causes"]] == ["spec.serviceAccountName"]


async def test_the_service_account_name_wins_over_a_different_alias(registry: Registry) -> None:
    """kube's conversion writes the deprecated alias back from the name (one rule, in the model)."""
    await registry.create(SA, "default", {"metadata": {"name": "robot"}}, WriteOptions())
    pod = await registry.create(POD, "default", pod_named("p", serviceAccountName="robot", serviceAccount="other"),
                                WriteOptions())
    assert pod["spec"]["serviceAccountName"] == "robot" and pod["spec"]["serviceAccount"] == "robot"
