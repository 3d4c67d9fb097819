"""`minikube-py scheduler | controller-manager | hollow-nodes`: the control-plane parts and the
node simulator run alone, each reaching the apiserver through a kubeconfig like any client.

Called by cli/main.py.  A kubeconfig that is missing or a server that does not answer ends in one
line saying what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from ..api.ranges import CLUSTER_CIDR
from ..client.aio import ApiClient
from ..client.kubeconfig import ConfigError, KubeConfig
from .main import UserError


async def _until_signal(work: asyncio.Task[None]) -> None:
    """Run `work` until SIGINT/SIGTERM (then cancel it) or until it fails (then raise)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter: asyncio.Task[None] = asyncio.create_task(_wait(stop))
    await asyncio.wait([work, waiter], return_when=asyncio.FIRST_COMPLETED)
    failure = work.exception() if work.done() and not work.cancelled() else None
    for t in (work, waiter):
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t
    if failure is not None:
        raise failure


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def _run(args: argparse.Namespace, client: ApiClient) -> None:
    try:
        try:
            await client.request("GET", "/version", request_timeout=10)
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is the same advice
            raise UserError(f"cannot reach the apiserver at {client.server} ({type(exc).__name__}: {exc}); is "
                            "`minikube-py server` running, and is --kubeconfig right?") from None
        if args.command == "hollow-nodes":
            from agents.hollow import HollowConfig, HollowNodes

            from ..api.timing import TIMINGS

            labels = dict(kv.split("=", 1) for kv in args.node_labels.split(",") if "=" in kv)
            nodes = HollowNodes(client, HollowConfig(count=args.count, prefix=args.prefix, cpu=args.cpu,
                                                     memory=args.memory, pods=args.pods,
                                                     lease_renew=args.lease_renew, timing=TIMINGS[args.timing],
                                                     labels=labels,
                                                     start_delay=args.start_delay))
            ready = asyncio.Event()
            task: asyncio.Task[None] = asyncio.create_task(nodes.run(ready))
            waiter: asyncio.Task[None] = asyncio.create_task(_wait(ready))
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if ready.is_set():
                print(f"{args.count} hollow nodes registered ({args.prefix}-0 ... {args.prefix}-{args.count - 1}, "
                      f"{args.cpu} CPU, {args.memory} each); reporting their pods Running", file=sys.stderr,
                      flush=True)
            await _until_signal(task)
        else:
            from .server import run_control_plane

            work = asyncio.create_task(run_control_plane(
                client, profile=getattr(args, "profile", "binpack"), scheduler=args.command == "scheduler",
                controllers=args.command == "controller-manager", timing=getattr(args, "timing", "kubernetes"),
                cluster_cidr=getattr(args, "cluster_cidr", CLUSTER_CIDR)))
            print(f"{args.command} running against {client.server}", file=sys.stderr, flush=True)
            await _until_signal(work)
    finally:
        await client.close()


def run_component(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "count", 1) < 1:
        raise UserError("--count must be at least 1")
    if getattr(args, "lease_renew", None) is not None and args.lease_renew <= 0:
        raise UserError("--lease-renew must be more than 0 seconds")
    try:
        conn = KubeConfig.load(args.kubeconfig).connection()
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --kubeconfig <data-dir>/kubeconfig") from None
    import uvloop

    uvloop.run(_run(args, ApiClient(conn, user_agent=f"minikube-py/{args.command}")))
    return 0
