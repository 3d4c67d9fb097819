"""The files the kubelet keeps per pod and binds into its containers: the managed /etc/hosts and
each container attempt's termination log.

/etc/hosts (pod_dir/etc-hosts, as the kubelet's managed hosts file): the localhost lines, the pod
IP with its hostname (and `<hostname>.<subdomain>.<ns>.svc.cluster.local` when spec.subdomain is
set), then the hostAliases; a hostNetwork pod gets the node's own /etc/hosts plus its hostAliases
(kube's nodeHostsFileContent).  The
termination log (pod_dir/containers/<name>/<restart count>-termination-log) is bound at the
container's terminationMessagePath (default /dev/termination-log); what the container wrote there
becomes state.terminated.message (agents/kubelet/runtime.py reads it back through the labels).

Blocking file work: agents/kubelet/worker.py calls `add_container_files` through the runtime's
thread pool before each container start.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .runtime import TERMINATION_LOG, TERMINATION_POLICY, ContainerExtras

Obj = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_TERMINATION_PATH = "/dev/termination-log"
NODE_HOSTS = Path("/etc/hosts")


def _aliases(spec: Obj) -> list[str]:
    aliases = [a for a in spec.get("hostAliases") or [] if isinstance(a, dict) and a.get("ip")]
    if not aliases:
        return []
    return ["", "# Entries added by HostAliases."] + [
        f"{a['ip']}\t" + "\t".join(str(h) for h in a.get("hostnames") or []) for a in aliases]


def host_network_hosts_file(pod: Obj, node_hosts: str) -> str:
    """A hostNetwork pod's hosts file: the node's, then the pod's hostAliases."""
    lines = ["# Kubernetes-managed hosts file (host network)."] + node_hosts.splitlines()
    return "\n".join(lines + _aliases(pod.get("spec") or {})) + "\n"


def hosts_file(pod: Obj, pod_ip: str) -> str:
    """The kubelet's managed hosts file for one pod."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    hostname = str(spec.get("hostname") or meta.get("name") or "")[:63]
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    if pod_ip:
        if spec.get("subdomain"):
            fqdn = f"{hostname}.{spec['subdomain']}.{meta.get('namespace') or 'default'}.svc.{CLUSTER_DOMAIN}"
            lines.append(f"{pod_ip}\t{fqdn}\t{hostname}")
        else:
            lines.append(f"{pod_ip}\t{hostname}")
    return "\n".join(lines + _aliases(spec)) + "\n"


def add_container_files(extras: ContainerExtras, pod_dir: Path, pod: Obj, container: Obj, restart_count: int,
                        pod_ip: str, node_hosts: Path = NODE_HOSTS) -> None:
    """Write the pod's hosts file and a fresh termination log for this attempt; adds the binds and
    labels that put them in the container to `extras` (which may hold the volumes' already)."""
    spec = pod.get("spec") or {}
    mounts = {str(m.get("mountPath") or "").rstrip("/") for m in container.get("volumeMounts") or []}
    if "/etc/hosts" not in mounts:  # a container's own mount wins, as kube
        hosts = pod_dir / "etc-hosts"
        hosts.parent.mkdir(parents=True, exist_ok=True)
        if spec.get("hostNetwork"):
            try:
                node = node_hosts.read_text(errors="replace")
            except OSError:
                node = "127.0.0.1\tlocalhost\n"
            hosts.write_text(host_network_hosts_file(pod, node))
        else:
            hosts.write_text(hosts_file(pod, pod_ip))
        hosts.chmod(0o644)
        extras.binds.append(f"{hosts}:/etc/hosts")
    path = str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH)
    if path.startswith("/"):
        log = pod_dir / "containers" / str(container.get("name")) / f"{restart_count}-termination-log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")
        log.chmod(0o666)  # the container may run as any user
        extras.binds.append(f"{log}:{path}")
        extras.labels[TERMINATION_LOG] = str(log)
    extras.labels[TERMINATION_POLICY] = str(container.get("terminationMessagePolicy") or "File")


def remove_pod_files(pod_dir: Path) -> None:
    """The hosts file and termination logs of a pod that is gone (volumes are not ours)."""
    (pod_dir / "etc-hosts").unlink(missing_ok=True)
    shutil.rmtree(pod_dir / "containers", ignore_errors=True)
