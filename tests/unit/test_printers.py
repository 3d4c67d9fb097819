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


# --- issue 9: kube's printers.go rules, one by one ------------------------------------------------

def _node(*conditions: dict[str, str], unschedulable: bool = False) -> dict[str, object]:
    return {"metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable},
            "status": {"conditions": list(conditions)}}


@pytest.mark.parametrize(("ready", "cordoned", "shown"), [
    ("True", False, "Ready"), ("Unknown", False, "NotReady"), ("False", False, "NotReady"),
    ("Unknown", True, "NotReady,SchedulingDisabled"), (None, False, "Unknown"), (None, True, "Unknown,SchedulingDisabled"),
])
def test_node_status_is_not_ready_for_anything_but_ready_true(ready: str | None, cordoned: bool, shown: str) -> None:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    assert cells("Node", _node(*conditions, unschedulable=cordoned))[1] == shown


def test_pod_ready_counts_only_running_ready_containers() -> None:
    row = cells("Pod", pod(phase="Running", containerStatuses=[
        {"name": "a", "ready": True, "state": {"running": {}}},
        {"name": "b", "ready": True, "state": {"waiting": {"reason": "ContainerCreating"}}}]))
    assert row[1:3] == ["1/2", "ContainerCreating"]


def test_pod_sidecars_count_as_containers() -> None:
    p = pod(phase="Running", initContainerStatuses=[
        {"name": "side", "ready": True, "started": True, "restartCount": 1, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(40)}}}],
        containerStatuses=[{"name": "a", "ready": True, "state": {"running": {}}},
                           {"name": "b", "ready": True, "state": {"running": {}}}],
        conditions=[{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}])
    p["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always"}]  # type: ignore[index]
    assert cells("Pod", p)[1:4] == ["3/3", "Running", "1 (40s ago)"]


def test_pod_restarts_of_init_containers_count_while_initializing() -> None:
    p = pod(phase="Pending", initContainerStatuses=[
        {"name": "i", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(5)}}}])
    p["spec"]["initContainers"] = [{"name": "i"}]  # type: ignore[index]
    assert cells("Pod", p)[2:4] == ["Init:CrashLoopBackOff", "3 (5s ago)"]


def test_pod_with_no_restarts_shows_no_ago_even_with_a_last_state() -> None:
    row = cells("Pod", pod(phase="Running", containerStatuses=[
        {"name": "a", "ready": True, "restartCount": 0, "state": {"running": {}},
         "lastState": {"terminated": {"exitCode": 0, "finishedAt": ts(30)}}}]))
    assert row[3] == "0"


def test_pod_terminating_only_before_a_terminal_phase_and_unknown_when_node_lost() -> None:
    done = pod(phase="Succeeded", containerStatuses=[{"name": "a", "state": {"terminated": {
        "exitCode": 0, "reason": "Completed"}}}])
    done["metadata"]["deletionTimestamp"] = ts(0)  # type: ignore[index]
    assert cells("Pod", done)[2] == "Completed"
    lost = pod(phase="Running", reason="NodeLost")
    lost["metadata"]["deletionTimestamp"] = ts(0)  # type: ignore[index]
    assert cells("Pod", lost)[2] == "Unknown"


def test_pod_scheduling_gated_and_terminated_without_reason() -> None:
    gated = pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}])
    assert cells("Pod", gated)[2] == "SchedulingGated"
    killed = pod(phase="Running", containerStatuses=[{"name": "a", "state": {"terminated": {"exitCode": 137,
                                                                                          "signal": 9}}}])
    assert cells("Pod", killed)[2] == "Signal:9"
    assert cells("Pod", pod(phase="Running", podIPs=[{"ip": "10.244.1.9"}], podIP="10.244.1.9"))[5] == "10.244.1.9"


def test_endpoints_list_each_port_with_each_address_three_at_most() -> None:
    ep = {"metadata": {"name": "e"}, "subsets": [{
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]}
    assert cells("Endpoints", ep)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    v6 = {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert cells("Endpoints", v6)[1] == "[fd00::1]:80"
    headless = {"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.3"}]}]}
    assert cells("Endpoints", headless)[1] == "10.0.0.3"
    assert cells("Endpoints", {"metadata": {"name": "e"}})[1] == "<none>"


def test_ingress_hosts_show_three_then_more() -> None:
    ing = {"metadata": {"name": "i"}, "spec": {"rules": [{"host": f"h{i}.example"} for i in range(5)],
                                                "tls": [{"hosts": ["h0.example"]}]}}
    row = cells("Ingress", ing, "networking.k8s.io/v1")
    assert row[1:5] == ["<none>", "h0.example,h1.example,h2.example + 2 more...", "", "80, 443"]
    assert cells("Ingress", {"metadata": {"name": "i"}, "spec": {}}, "networking.k8s.io/v1")[2] == "*"


@pytest.mark.parametrize(("hosts", "cell"), [
    (["", "a", "b", "c"], "a,b,c"),  # the third host is the last rule: nothing more
    (["", "", "", "x"], "x"),
    (["a", "b", "c", ""], "a,b,c + 1 more..."),  # a rule follows the third host, even one without a host
    (["a", "", "b", "", "c", "d"], "a,b,c + 3 more..."),  # N is the rules less three, as kube counts
    (["", ""], "*"),
    ([], "*"),
])
def test_ingress_hosts_are_kube_s_format_hosts(hosts: list[str], cell: str) -> None:
    ing = {"metadata": {"name": "i"}, "spec": {"rules": [{"host": h} if h else {} for h in hosts]}}
    assert cells("Ingress", ing, "networking.k8s.io/v1")[2] == cell


def test_claims_and_volumes_as_kube_prints_them() -> None:
    pending = {"metadata": {"name": "c", "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
               "spec": {"storageClassName": "new", "volumeMode": "Filesystem"},
               "status": {"phase": "Pending", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert cells("PersistentVolumeClaim", pending)[1:6] == ["Pending", "", "", "", "old"]
    bound = {"metadata": {"name": "c", "deletionTimestamp": ts(0)},
             "spec": {"volumeName": "pv-1", "storageClassName": "std"},
             "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                        "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}}
    assert cells("PersistentVolumeClaim", bound)[1:6] == ["Terminating", "pv-1", "1Gi", "RWO,RWX", "std"]
    pv = {"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                                  "persistentVolumeReclaimPolicy": "Delete",
                                                  "claimRef": {"namespace": "default", "name": "c"}},
          "status": {"phase": "Bound"}}
    assert cells("PersistentVolume", pv)[1:7] == ["1Gi", "RWO", "Delete", "Bound", "default/c", ""]


def test_storage_and_ingress_classes_as_kube_prints_them() -> None:
    sc = {"metadata": {"name": "std", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}},
          "provisioner": "minikube-py/hostpath"}
    assert cells("StorageClass", sc, "storage.k8s.io/v1")[:5] == ["std (default)", "minikube-py/hostpath", "Delete",
                                                                  "Immediate", False]
    ic = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
                                                  "parameters": {"apiGroup": "", "kind": "Cfg", "name": "p"}}}
    assert cells("IngressClass", ic, "networking.k8s.io/v1")[2] == "Cfg./p"


def test_events_take_series_counts_and_name_less_targets() -> None:
    ev = {"metadata": {"name": "e1"}, "type": "Normal", "reason": "Pulled", "message": "  done \n",
          "involvedObject": {"kind": "Node"}, "reportingComponent": "kubelet", "reportingInstance": "n1",
          "eventTime": ts(100), "series": {"count": 7, "lastObservedTime": ts(10)}}
    row = cells("Event", ev)
    assert row == ["10s", "Normal", "Pulled", "node", "", "kubelet, n1", "done", "100s", 7, "e1"]
    single = {"metadata": {"name": "e2"}, "involvedObject": {"kind": "Pod", "name": "p"},
              "firstTimestamp": ts(30), "source": {"component": "scheduler"}}
    row = cells("Event", single)
    assert (row[0], row[3], row[5], row[8]) == ("30s", "pod/p", "scheduler", 1)
