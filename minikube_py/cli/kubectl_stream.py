"""mkctl commands that stream to and from containers: logs, exec and attach (port-forward is
minikube_py/cli/kubectl_portforward.py).

They take kubectl's flags and check what the apiserver can check (the pod exists, the container
is one of its containers).  `logs` reads `pods/NAME/log` as kubectl does; `exec` and `attach` run a
WebSocket v5 session (kubectl_ws.py) whose remote exit code is mkctl's.  Called by
minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .kubectl_resources import Obj, get_object, resolve_one
from .mkctl import CommandError, Context


def _pod_and_container(ctx: Context, args: argparse.Namespace, words: list[str]) -> tuple[Obj, str]:
    if not words:
        raise CommandError("expected POD or TYPE/NAME as the first argument")
    first = words[0]
    typed, sep, name = first.partition("/")
    if sep and typed not in ("pod", "pods", "po"):
        raise CommandError(f"mkctl {args.command} takes a pod for now (got {typed}/{name}); "
                           "name the pod with 'mkctl get pods -l ...'")
    pod_name = name if sep else first
    pod = get_object(ctx, resolve_one(ctx, "pods"), ctx.namespace, pod_name)
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    container = getattr(args, "container", "") or (words[1] if len(words) > 1 and args.command == "logs" else "")
    if container and container not in containers:
        raise CommandError(f"container {container} is not valid for pod {pod_name}")
    if not container:
        default = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        container = default or (containers[0] if containers else "")
        if len(containers) > 1 and not default and args.command != "logs":
            print(f'Defaulted container "{container}" out of: {", ".join(containers)}', file=sys.stderr)
        elif len(containers) > 1 and not default and args.command == "logs":
            raise CommandError(f"a container name must be specified for pod {pod_name}, choose one of: "
                               f"[{' '.join(containers)}]")
    return pod, container


def cmd_logs(ctx: Context, args: argparse.Namespace) -> int:
    pod, container = _pod_and_container(ctx, args, args.args)
    params: dict[str, Any] = {"container": container, "follow": "true" if args.follow else None,
                              "previous": "true" if args.previous else None,
                              "tailLines": args.tail if args.tail >= 0 else None,
                              "timestamps": "true" if args.timestamps else None,
                              "limitBytes": args.limit_bytes or None}
    if args.since:
        from .mkctl import duration

        params["sinceSeconds"] = int(duration(args.since))
    path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}/log"
    for chunk in ctx.client.stream(path, params, accept="text/plain, */*"):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    return 0


def _session(ctx: Context, args: argparse.Namespace, pod: Obj, subresource: str, params: dict[str, Any]) -> int:
    """Open the stream as kubectl >= 1.30 does (WebSocket v5) and run it; the remote exit code."""
    from .kubectl_ws import SessionError, run_session

    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise CommandError(f"cannot {args.command} into a container in a completed pod; current phase is {phase}")
    meta = pod["metadata"]
    try:
        code = run_session(ctx.client, f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/{subresource}",
                           params, stdin=bool(args.stdin), tty=bool(args.tty))
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    if code:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


def cmd_exec(ctx: Context, args: argparse.Namespace) -> int:
    if not args.after_dashdash:
        raise CommandError("you must specify at least one command for the container")
    pod, container = _pod_and_container(ctx, args, args.args)
    return _session(ctx, args, pod, "exec", {"container": container, "command": args.after_dashdash,
                                             "stdin": "true" if args.stdin else None,
                                             "stdout": "true", "stderr": "true" if not args.tty else None,
                                             "tty": "true" if args.tty else None})


def cmd_attach(ctx: Context, args: argparse.Namespace) -> int:
    pod, container = _pod_and_container(ctx, args, args.args)
    if args.tty and args.stdin:
        print("If you don't see a command prompt, try pressing enter.", file=sys.stderr)
    return _session(ctx, args, pod, "attach", {"container": container, "stdin": "true" if args.stdin else None,
                                               "stdout": "true", "stderr": "true" if not args.tty else None,
                                               "tty": "true" if args.tty else None})
