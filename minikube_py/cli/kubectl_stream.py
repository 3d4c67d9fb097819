"""mkctl commands that stream to and from containers: logs, exec, attach and port-forward.

They take kubectl's flags and check what the apiserver can check (the pod exists, the container
is one of its containers).  `logs` reads `pods/NAME/log` as kubectl does; the server side of logs,
exec, attach and port-forward comes with the node agent, so until then the apiserver's answer
(an error Status) is what the user sees.  Called by minikube_py.cli.mkctl.
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


def _upgrade(ctx: Context, args: argparse.Namespace, pod: Obj, subresource: str, params: dict[str, Any]) -> int:
    """Ask the apiserver for the stream as kubectl does; its error Status is what the user sees."""
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase in ("Succeeded", "Failed"):
        raise CommandError(f"cannot {args.command} into a container in a completed pod; current phase is {phase}")
    meta = pod["metadata"]
    ctx.client.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/{subresource}",
                       params=params)
    raise CommandError(f"unable to upgrade connection: the apiserver accepted {subresource} without a stream "
                       "upgrade; this mkctl needs a newer minikube-py")


def cmd_exec(ctx: Context, args: argparse.Namespace) -> int:
    if not args.after_dashdash:
        raise CommandError("you must specify at least one command for the container")
    pod, container = _pod_and_container(ctx, args, args.args)
    return _upgrade(ctx, args, pod, "exec", {"container": container, "command": args.after_dashdash,
                                             "stdin": "true" if args.stdin else None,
                                             "stdout": "true", "stderr": "true" if not args.tty else None,
                                             "tty": "true" if args.tty else None})


def cmd_attach(ctx: Context, args: argparse.Namespace) -> int:
    pod, container = _pod_and_container(ctx, args, args.args)
    print("All commands and output from this session will be recorded in container logs, including credentials "
          "and sensitive information passed through the command prompt.\nIf you don't see a command prompt, try "
          "pressing enter.", file=sys.stderr)
    return _upgrade(ctx, args, pod, "attach", {"container": container, "stdin": "true" if args.stdin else None,
                                               "stdout": "true", "stderr": "true" if not args.tty else None,
                                               "tty": "true" if args.tty else None})


def cmd_port_forward(ctx: Context, args: argparse.Namespace) -> int:
    if len(args.args) < 2:
        raise CommandError("TYPE/NAME and list of ports are required for port-forward")
    for spec in args.args[1:]:
        local, _, remote = spec.rpartition(":")
        for part in (local, remote):
            if part and not part.isdigit():
                raise CommandError(f"invalid port specification {spec!r}: expected [LOCAL_PORT:]REMOTE_PORT")
    pod, _ = _pod_and_container(ctx, args, args.args[:1])
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase != "Running":
        raise CommandError(f"unable to forward port because pod is not running. Current status={phase}")
    return _upgrade(ctx, args, pod, "portforward", {"ports": [s.rpartition(":")[2] for s in args.args[1:]]})
