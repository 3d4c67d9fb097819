"""`minikube-py`: the program users run (server now; start, agent and friends join later).

Every failure a user can cause (a bad flag, a busy port, an unreachable etcd) ends in one line
on stderr saying what to do, and a non-zero exit; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    return p


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
                              store_url=args.store, log_level=args.log_level)
    except UserError as exc:
        print(f"minikube-py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
