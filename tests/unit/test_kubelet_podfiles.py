"""The kubelet's per-pod files without Docker: the managed hosts file's lines, and the binds and
labels of one container attempt (hosts file, termination log); on the host network the hosts file
is the node's plus the hostAliases, and a container that mounts its own /etc/hosts keeps it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.kubelet.podfiles import add_container_files, hosts_file, remove_pod_files
from agents.kubelet.runtime import TERMINATION_LOG, TERMINATION_POLICY, ContainerExtras


def container_files(pod_dir: Path, pod: dict[str, Any], container: dict[str, Any], count: int,
                    ip: str) -> ContainerExtras:
    extras = ContainerExtras(binds=["/data:/data"])  # what the volumes put there first stays
    add_container_files(extras, pod_dir, pod, container, count, ip)
    return extras


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-abc", "namespace": "shop", "uid": "u1"}, "spec": spec}


def test_hosts_file_lines():
    plain = hosts_file(pod(), "10.244.1.7").splitlines()
    assert plain[:2] == ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost"]
    assert plain[-1] == "10.244.1.7\tweb-abc"
    named = hosts_file(pod(hostname="db-0", subdomain="db",
                           hostAliases=[{"ip": "10.1.1.1", "hostnames": ["a", "b"]}, {"hostnames": ["no-ip"]}]),
                       "10.244.1.8")
    assert "10.244.1.8\tdb-0.db.shop.svc.cluster.local\tdb-0\n" in named
    assert named.endswith("\n# Entries added by HostAliases.\n10.1.1.1\ta\tb\n")


def test_container_files_binds_and_labels(tmp_path: Path):
    container = {"name": "main", "terminationMessagePath": "/tmp/msg", "terminationMessagePolicy": "FallbackToLogsOnError"}
    extras = container_files(tmp_path, pod(), container, 3, "10.244.1.7")
    log = tmp_path / "containers" / "main" / "3-termination-log"
    assert extras.binds == ["/data:/data", f"{tmp_path / 'etc-hosts'}:/etc/hosts", f"{log}:/tmp/msg"]
    assert extras.labels == {TERMINATION_LOG: str(log), TERMINATION_POLICY: "FallbackToLogsOnError"}
    assert log.read_bytes() == b"" and oct(log.stat().st_mode & 0o777) == "0o666"
    node_hosts = tmp_path / "node-hosts"
    node_hosts.write_text("127.0.0.1\tlocalhost\n192.0.2.9\tnode-1\n")
    host = ContainerExtras()
    add_container_files(host, tmp_path / "hostnet", pod(hostNetwork=True, hostAliases=[{"ip": "10.9.9.9",
                                                                                         "hostnames": ["x"]}]),
                        {"name": "main"}, 0, "", node_hosts)
    assert host.binds[0] == f"{tmp_path / 'hostnet' / 'etc-hosts'}:/etc/hosts"
    assert (tmp_path / "hostnet" / "etc-hosts").read_text() == (
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n192.0.2.9\tnode-1\n"
        "\n# Entries added by HostAliases.\n10.9.9.9\tx\n")
    own = container_files(tmp_path, pod(), {"name": "x", "volumeMounts": [{"mountPath": "/etc/hosts"}]}, 0, "ip")
    assert not any(b.endswith(":/etc/hosts") for b in own.binds)
    remove_pod_files(tmp_path)
    assert not (tmp_path / "etc-hosts").exists() and not (tmp_path / "containers").exists()
