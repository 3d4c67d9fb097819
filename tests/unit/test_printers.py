"""Table cells as kube-apiserver prints them: durations, pod status, services, nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from minikube_py.api import kinds, printers
from minikube_py.api.meta import K8sObject
from minikube_py.api.printers import human_duration

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (312, "5m12s"), (600, "10m"),
    (90 * 60, "90m"), (3 * 3600, "3h"), (3 * 3600 + 240, "3h4m"), (26 * 3600, "26h"), (76 * 3600, "3d4h"),
    (8 * 86400, "8d"), (400 * 86400, "400d"), (800 * 86400, "2y70d"), (3000 * 86400, "8y"),
])
def test_human_duration_matches_kubernetes(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def pod(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "p", "creationTimestamp": ts(65)},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"}, "status": status}


def cells(kind: str, obj: dict[str, object], api_version: str = "v1") -> list[object]:
    return kinds.require(api_version, kind).printer.row(obj, NOW)


def test_pod_running_ready_and_restarts() -> None:
    row = cells("Pod", pod(phase="Running", podIP="10.244.0.5", containerStatuses=[
        {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
        {"name": "b", "ready": False, "restartCount": 0, "state": {"running": {}}}]))
    assert row[:5] == ["p", "1/2", "Running", "2", "65s"]
    assert row[5:7] == ["10.244.0.5", "n1"]


def test_pod_crash_loop_and_last_restart_age() -> None:
    row = cells("Pod", pod(phase="Running", containerStatuses=[
        {"name": "a", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(30)}}}]))
    assert row[2] == "CrashLoopBackOff" and row[3] == "4 (30s ago)"


def test_pod_init_and_terminating() -> None:
    p = pod(phase="Pending", initContainerStatuses=[{"name": "i", "state": {"running": {}}}])
    p["spec"]["initContainers"] = [{"name": "i"}]  # type: ignore[index]
    assert cells("Pod", p)[2] == "Init:0/1"
    gone = pod(phase="Running")
    gone["metadata"]["deletionTimestamp"] = ts(0)  # type: ignore[index]
    assert cells("Pod", gone)[2] == "Terminating"


def test_services_external_ip_and_ports() -> None:
    np = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
                                              "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}}
    assert cells("Service", np)[1:5] == ["NodePort", "10.96.0.20", "<none>", "80:30080/TCP"]
    lb = {"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.21",
                                              "ports": [{"port": 443, "protocol": "TCP"}]}}
    assert cells("Service", lb)[3] == "<pending>"


def test_node_status_roles_and_cordon() -> None:
    node = {"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.35.0"}}}
    assert cells("Node", node)[:3] == ["n", "Ready,SchedulingDisabled", "control-plane"]


def test_deployment_columns() -> None:
    d = {"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                                "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    printer = kinds.require("apps/v1", "Deployment").printer
    assert [c.name for c in printer.columns] == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                                 "Images", "Selector"]
    assert printer.row(d, NOW)[:4] == ["web", "2/3", 3, 2]
    assert printer.row(d, NOW)[-1] == "app=web"


def test_a_kind_without_a_printer_gets_the_default_columns() -> None:
    widget = kinds.KindInfo("Widget", "example.com", "v1", "widgets", "widget", True, K8sObject)
    assert [c.name for c in widget.printer.columns] == ["Name", "Created At"]


def test_every_served_kind_has_its_kube_apiserver_columns() -> None:
    assert [f"{k.api_version} {k.kind}" for k in kinds.KINDS if k.printer is printers.DEFAULT] == []


def test_endpointslice_cells_show_three_then_how_many_more_and_unset_for_none() -> None:
    many = {"metadata": {"name": "web-abcde", "creationTimestamp": ts(30)}, "addressType": "IPv4",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}, {"name": "c", "port": 82},
                      {"name": "d"}],
            "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)]}
    assert printers.ENDPOINTSLICE.row(many, NOW) == ["web-abcde", "IPv4", "80,81,82 + 1 more...",
                                                     "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "30s"]
    named = {"metadata": {"name": "x", "creationTimestamp": ts(30)}, "addressType": "IPv4", "ports": [{"name": "d"}]}
    assert printers.ENDPOINTSLICE.row(named, NOW)[2:4] == ["d", "<unset>"]
    placeholder = {"metadata": {"name": "x", "creationTimestamp": ts(30)}, "addressType": "IPv4"}
    assert printers.ENDPOINTSLICE.row(placeholder, NOW)[2:4] == ["<unset>", "<unset>"]


def test_serviceaccount_cells_count_its_secrets() -> None:
    sa = {"metadata": {"name": "robot", "creationTimestamp": ts(65)}, "secrets": [{"name": "a"}, {"name": "b"}]}
    assert printers.SERVICEACCOUNT.row(sa, NOW) == ["robot", 2, "65s"]
    assert [c.name for c in kinds.require("v1", "ServiceAccount").printer.columns] == ["Name", "Secrets", "Age"]
