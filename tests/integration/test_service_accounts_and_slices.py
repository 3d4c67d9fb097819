"""ServiceAccounts and EndpointSlices on the whole master with hollow nodes, driven by kubectl 1.35
as a user would: a `default` account in every namespace (kept by its controller), pods running
as it, `kubectl create serviceaccount`; slices kept from a Service's pods, read by
`describe service` and `describe ingress` (kubectl >= 1.32 reads slices, not Endpoints), printed
by `get endpointslices`; hand-written Endpoints mirrored.  Waits are bounded polls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import RunningCluster
from tests.integration.test_control_plane import Run, _deployment, _runner, get, unique, wait_for

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, cluster: RunningCluster) -> Run:
    return _runner([str(kubectl_bin)], cluster)


def _pod(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}})


def test_every_namespace_gets_a_default_service_account_that_pods_run_as(kubectl: Run) -> None:
    ns = unique("sa")
    kubectl("create", "namespace", ns)
    wait_for("the default account", lambda: kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0)
    kubectl("create", "serviceaccount", "robot", "-n", ns)  # a generator command: sent as protobuf
    table = kubectl("get", "serviceaccounts", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "SECRETS", "AGE"]
    assert sorted(line.split()[:2] for line in table[1:]) == [["default", "0"], ["robot", "0"]]
    described = kubectl("describe", "sa", "robot", "-n", ns).stdout
    assert re.search(r"^Name:\s+robot$", described, re.M) and re.search(rf"^Namespace:\s+{ns}$", described, re.M)
    kubectl("delete", "sa", "default", "-n", ns)
    wait_for("the default account again", lambda: kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0)
    kubectl("create", "-n", ns, "-f", "-", input=_pod("plain"))
    kubectl("create", "-n", ns, "-f", "-", input=_pod("bot", serviceAccountName="robot"))
    plain, bot = get(kubectl, "pod", "plain", "-n", ns), get(kubectl, "pod", "bot", "-n", ns)
    assert (plain["spec"]["serviceAccountName"], plain["spec"]["serviceAccount"]) == ("default", "default")
    assert bot["spec"]["serviceAccountName"] == "robot"
    refused = kubectl("create", "-n", ns, "-f", "-", input=_pod("ghost", serviceAccountName="ghost"), check=False)
    assert refused.returncode == 1
    assert (f'pods "ghost" is forbidden: error looking up service account {ns}/ghost: serviceaccount "ghost" not found'
            in refused.stderr)
    kubectl("delete", "namespace", ns, "--wait=false")


def _slice_ips(kubectl: Run, service: str, ready_only: bool = True) -> list[str]:
    slices = get(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={service}")["items"]
    return sorted(a for s in slices for ep in s.get("endpoints") or [] for a in ep["addresses"]
                  if not ready_only or (ep.get("conditions") or {}).get("ready"))


def test_describe_service_and_ingress_show_the_endpoints_kept_in_slices(kubectl: Run) -> None:
    name = unique("slice")
    kubectl("create", "-f", "-", input=_deployment(name, 2))
    kubectl("expose", "deployment", name, "--port=80", "--target-port=http")
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    pod_ips = sorted(p["status"]["podIP"] for p in get(kubectl, "pods", "-l", f"app={name}")["items"])
    wait_for("2 ready endpoints in slices", lambda: _slice_ips(kubectl, name) == pod_ips)
    [s] = get(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={name}")["items"]
    svc = get(kubectl, "service", name)
    assert s["metadata"]["generateName"] == f"{name}-"
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert s["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    table = kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={name}").stdout.splitlines()
    assert table[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert table[1].split()[:4] == [s["metadata"]["name"], "IPv4", "8080", ",".join(
        a for ep in s["endpoints"] for a in ep["addresses"])]
    described = kubectl("describe", "service", name).stdout
    line = next(x for x in described.splitlines() if x.startswith("Endpoints:"))
    assert sorted(line.split(None, 1)[1].split(",")) == sorted(f"{ip}:8080" for ip in pod_ips)

    ingress = json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
                          "spec": {"rules": [{"host": "web.example", "http": {"paths": [{
                              "path": "/", "pathType": "Prefix",
                              "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}})
    kubectl("create", "-f", "-", input=ingress)
    described = kubectl("describe", "ingress", name).stdout
    backend = re.search(rf"{re.escape(name)}:80 \(([^)]*)\)", described)
    assert backend is not None, described
    assert sorted(backend.group(1).split(",")) == sorted(f"{ip}:8080" for ip in pod_ips)

    kubectl("scale", f"deployment/{name}", "--replicas=0")
    wait_for("an empty placeholder", lambda: _slice_ips(kubectl, name, ready_only=False) == [])
    assert "<unset>" in kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={name}").stdout
    kubectl("delete", "service", name)
    wait_for("the slices to go with the service",
             lambda: get(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={name}")["items"] == [])


def test_hand_written_endpoints_are_mirrored_into_slices(kubectl: Run) -> None:
    name = unique("mirror")
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}))
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}, {"ip": "192.0.2.11"}], "ports": [{"port": 9376}]}]}))
    wait_for("the mirrored slice", lambda: _slice_ips(kubectl, name) == ["192.0.2.10", "192.0.2.11"])
    [s] = get(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={name}")["items"]
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslicemirroring-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    described = kubectl("describe", "service", name).stdout
    assert "192.0.2.10:9376,192.0.2.11:9376" in described
    kubectl("delete", "endpoints", name)
    wait_for("the mirrored slice to go", lambda: _slice_ips(kubectl, name, ready_only=False) == [])


def test_the_kubernetes_service_has_its_apiserver_endpoint_in_a_slice(kubectl: Run, cluster: RunningCluster) -> None:
    described = kubectl("describe", "service", "kubernetes", "-n", "default").stdout
    line = next(x for x in described.splitlines() if x.startswith("Endpoints:"))
    host_port = cluster.server.url.split("://", 1)[1].rstrip("/")
    assert line.split(None, 1)[1] == host_port


def test_the_docs_selectorless_service_with_its_own_endpointslice_applies_and_describes(
        kubectl: Run, tmp_path: Path) -> None:
    name = unique("docs")
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(f"""\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: 9376
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
  - name: http
    appProtocol: http
    protocol: TCP
    port: 9376
endpoints:
  - addresses:
      - "10.4.5.6"
  - addresses:
      - "10.1.2.3"
""")
    for _ in range(2):  # default validation (openapi v3), then the client-side apply patch
        kubectl("apply", "-f", str(manifest))
    assert get(kubectl, "serviceaccount", name)["metadata"]["name"] == name
    [s] = get(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={name}")["items"]
    assert s["metadata"]["name"] == f"{name}-1" and "endpointslice.kubernetes.io/managed-by" not in s["metadata"][
        "labels"]
    line = next(x for x in kubectl("describe", "service", name).stdout.splitlines() if x.startswith("Endpoints:"))
    assert line.split(None, 1)[1] == "10.4.5.6:9376,10.1.2.3:9376"
    bad = kubectl("create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": f"{name}-bad"},
        "addressType": "IPv4", "endpoints": [{"addresses": ["not-an-ip"]}]}))
    assert bad.returncode == 1 and "endpoints[0].addresses[0]: Invalid value" in bad.stderr
    kubectl("delete", "-f", str(manifest))
