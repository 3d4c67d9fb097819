"""`minikube-py`: the program users run (server now; start, agent and friends join later).

Every failure a user can cause (a bad flag, a busy port, an unreachable etcd) ends in one line
on stderr saying what to do, and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..api.ranges import CLUSTER_CIDR

DEFAULT_DATA_DIR = Path("~/.minikube-py").expanduser()


class UserError(Exception):
    """A failure the user can fix; printed as one line."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minikube-py", description="A mini Kubernetes in Python.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("kubectl", help="run mkctl, the kubectl of minikube-py (same commands and flags)",
                   add_help=False)
    s = sub.add_parser("server", help="run the control plane (apiserver) on this host")
    s.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="where state, certificates and the kubeconfig live (default: %(default)s)")
    s.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    s.add_argument("--port", type=int, default=6443, help="HTTPS port (default: %(default)s)")
    s.add_argument("--store", default="sqlite",
                   help="'sqlite' (embedded, the default) or etcd://HOST:PORT[,HOST:PORT...]")
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.add_argument("--scheduler-profile", default="binpack", choices=["binpack", "spread"],
                   help="how default-scheduler scores nodes: fill them (binpack) or spread pods (spread)")
    s.add_argument("--timing", default="kubernetes", choices=["kubernetes", "fast"],
                   help="Kubernetes' timings (node grace 50 s, eviction after 300 s) or the fast test profile "
                        "(10 s, 30 s)")
    s.add_argument("--cluster-cidr", default=CLUSTER_CIDR,
                   help="the pods' address range; each node gets a /24 of it (kube-controller-manager's flag; "
                        "default: %(default)s)")
    s.add_argument("--no-control-plane", action="store_true",
                   help="serve the API only (run `scheduler` and `controller-manager` yourself)")
    s.add_argument("--min-request-timeout", type=float, default=1800.0,
                   help="a watch without timeoutSeconds ends after a random time between this and twice this, in "
                        "seconds (kube-apiserver's flag; default: %(default)s)")
    s.add_argument("--etcd-compaction-interval", type=float, default=300.0,
                   help="seconds between etcd compactions, each keeping the last interval of history; 0 turns "
                        "them off (kube-apiserver's flag; default: %(default)s)")

    def client_flags(c: argparse.ArgumentParser) -> None:
        c.add_argument("--kubeconfig", default=None,
                       help="kubeconfig to reach the apiserver (default: KUBECONFIG, then ~/.kube/config)")
        c.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    c = sub.add_parser("scheduler", help="run the scheduler alone, against an apiserver")
    client_flags(c)
    c.add_argument("--profile", default="binpack", choices=["binpack", "spread"])
    c.add_argument("--timing", default="kubernetes", choices=["kubernetes", "fast"],
                   help="Kubernetes' backoffs (1 s to 10 s per pod) or the fast test profile's (0.2 s to 2 s)")
    c = sub.add_parser("controller-manager", help="run the controllers alone, against an apiserver")
    client_flags(c)
    c.add_argument("--timing", default="kubernetes", choices=["kubernetes", "fast"])
    c.add_argument("--cluster-cidr", default=CLUSTER_CIDR, help="the pods' address range (a /24 per node)")
    h = sub.add_parser("hollow-nodes", help="simulate nodes that run pods without containers (like kubemark)")
    client_flags(h)
    h.add_argument("--count", type=int, default=3, help="how many nodes (default: %(default)s)")
    h.add_argument("--prefix", default="hollow-node", help="node names are PREFIX-0, PREFIX-1, ...")
    h.add_argument("--cpu", default="4", help="CPU capacity of each node (default: %(default)s)")
    h.add_argument("--memory", default="8Gi", help="memory capacity of each node (default: %(default)s)")
    h.add_argument("--pods", type=int, default=110, help="pod capacity of each node (default: %(default)s)")
    h.add_argument("--timing", default="kubernetes", choices=["kubernetes", "fast"],
                   help="the control plane's timing profile, which sets the lease renewal (10 s, or 2 s fast)")
    h.add_argument("--lease-renew", type=float, default=None,
                   help="seconds between heartbeats (default: the timing profile's, 10 or 2)")
    h.add_argument("--node-labels", default="", help="extra labels for every node: k=v[,k=v...]")
    h.add_argument("--start-delay", type=float, default=0.0,
                   help="seconds a pod takes to start (Running and Ready), like pulling and starting containers")
    f = sub.add_parser("fault-proxy", help="a proxy to the apiserver that injects failures (to watch loops heal)")
    client_flags(f)
    f.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    f.add_argument("--write-kubeconfig", type=Path, default=None,
                   help="write a kubeconfig that points at the proxy here (give it to a component)")
    f.add_argument("--fail-writes", type=float, default=0.2,
                   help="fraction of writes answered 500/503/409/429 before forwarding (default: 0.2)")
    f.add_argument("--codes", default="500,503,409,429",
                   help="the answers a failed write gets, picked at random (default: %(default)s)")
    f.add_argument("--unknown-writes", type=float, default=0.0,
                   help="fraction of writes forwarded, then answered 504 Timeout (default: 0)")
    f.add_argument("--delay", type=float, default=0.0, help="fraction of requests delayed up to 0.3 s")
    f.add_argument("--cut-watches", type=float, default=5.0,
                   help="cut watch streams after about this many seconds (0: never; default: 5)")
    f.add_argument("--watch-lag", type=float, default=0.0,
                   help="hold every watch event back this many seconds (a cache that runs behind; default: 0)")
    f.add_argument("--only", default="", help="faults only for these resources: pods,pods/binding,deployments/status,...")
    f.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
    from .image import add_parser as add_image_parser

    add_image_parser(sub)
    _add_agent_parser(sub)
    _add_cluster_parsers(sub)
    return p


def _add_cluster_parsers(sub: Any) -> None:
    """`minikube-py start | status | stop | delete`: this host as a single-node cluster (cli/cluster.py)."""
    def data_dir(c: argparse.ArgumentParser) -> None:
        c.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                       help="where the cluster's state, logs and kubeconfig live (default: %(default)s)")

    s = sub.add_parser("start", help="start a single-node cluster on this host (master + agent, in the background)")
    data_dir(s)
    s.add_argument("--port", type=int, default=None, help="the apiserver's HTTPS port (default: 6443, or the "
                                                         "port of the cluster being resumed)")
    s.add_argument("--node-name", default=None, help="the Node's name (default: the host name)")
    s.add_argument("--node-ip", default=None, help="the Node's InternalIP (default: the host name's address)")
    s.add_argument("--timing", default=None, choices=["kubernetes", "fast"],
                   help="Kubernetes' timings (the default) or the fast test profile")
    s.add_argument("--streaming-port", type=int, default=None,
                   help="the node agent's HTTPS port for logs, exec and port-forward (default: 10250, or the "
                        "port of the cluster being resumed)")
    s.add_argument("--pull", action=argparse.BooleanOptionalAction, default=None,
                   help="let the node pull images from registries (default: off, local images only; a resume "
                        "keeps the last choice)")
    for name, text in (("status", "what runs, and where the kubeconfig is (exit 0 only when all runs)"),
                       ("stop", "stop the master, the agent and the node's containers (state kept)"),
                       ("delete", "stop, then remove the cluster's containers, networks, data dir and "
                                  "kubeconfig entries")):
        data_dir(sub.add_parser(name, help=text))


def _run_cluster(args: argparse.Namespace) -> int:
    from . import cluster

    if args.command == "start":
        return cluster.start(args.data_dir, port=args.port, node_name=args.node_name, node_ip=args.node_ip,
                             timing=args.timing, pull=args.pull, streaming_port=args.streaming_port)
    if args.command == "status":
        return cluster.status(args.data_dir)
    if args.command == "stop":
        return cluster.stop(args.data_dir)
    return cluster.delete(args.data_dir)


def _add_agent_parser(sub: Any) -> None:
    """`minikube-py agent`: this host as a node (agents/node.py)."""
    a = sub.add_parser("agent", help="run this host as a node: register it and run its pods on Docker")
    a.add_argument("--kubeconfig", default=None,
                   help="kubeconfig to reach the apiserver (default: KUBECONFIG, then ~/.kube/config)")
    a.add_argument("--node-name", default=None, help="the Node's name (default: the host name)")
    a.add_argument("--node-ip", default=None, help="the Node's InternalIP (default: the host name's address)")
    a.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR / "agent",
                   help="where the agent keeps pod files (default: %(default)s)")
    a.add_argument("--timing", default="kubernetes", choices=["kubernetes", "fast"],
                   help="Kubernetes' timings (lease renewed every 10 s) or the fast test profile's (2 s)")
    a.add_argument("--streaming-port", type=int, default=10250,
                   help="the HTTPS port for logs, exec, attach and port-forward, as the kubelet's (default: 10250)")
    a.add_argument("--pull", action="store_true",
                   help="pull images from registries (default: off: only images already loaded run, and a "
                        "missing one fails with ErrImageNeverPull)")
    a.add_argument("--allow-privileged", action="store_true",
                   help="run pods that get the host (privileged, hostPID/hostIPC, hostPath of / or the Docker "
                        "socket); refused by default")
    a.add_argument("--reserved", default="", metavar="cpu=Q,memory=Q",
                   help="resources kept back for the host: allocatable = capacity - reserved (e.g. cpu=500m,memory=1Gi)")
    a.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _run_agent(args: argparse.Namespace) -> int:
    from agents.node import run_agent

    return run_agent(kubeconfig=args.kubeconfig, node_name=args.node_name, node_ip=args.node_ip,
                     data_dir=args.data_dir, timing=args.timing, log_level=args.log_level,
                     streaming_port=args.streaming_port, registries=args.pull, allow_privileged=args.allow_privileged,
                     reserved=args.reserved)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kubectl"]:  # `minikube-py kubectl ...` is mkctl, as `k3s kubectl` is kubectl
        from .mkctl import main as mkctl_main

        return mkctl_main(argv[1:], prog="minikube-py kubectl")
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        if args.command == "server":
            from .server import run_server

            return run_server(data_dir=args.data_dir.expanduser(), bind=args.bind, port=args.port,
                              store_url=args.store, log_level=args.log_level, profile=args.scheduler_profile,
                              control_plane=not args.no_control_plane, timing=args.timing,
                              min_request_timeout=args.min_request_timeout,
                              compaction_interval=args.etcd_compaction_interval, cluster_cidr=args.cluster_cidr)
        if args.command == "fault-proxy":
            import logging

            from .faultproxy import run_fault_proxy

            logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            return run_fault_proxy(args)
        if args.command == "agent":
            return _run_agent(args)
        if args.command in ("start", "status", "stop", "delete"):
            return _run_cluster(args)
        if args.command == "image":
            from .image import run_image

            return run_image(args)
        if args.command in ("scheduler", "controller-manager", "hollow-nodes"):
            from .components import run_component

            return run_component(args)
    except UserError as exc:
        print(f"minikube-py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    # `python -m minikube_py.cli.main` runs this file as __main__: use the module's own main, so that the
    # UserError the subcommands import (from minikube_py.cli.main) is the one caught above
    from minikube_py.cli.main import main as module_main

    sys.exit(module_main())
