"""Micro-benchmark: the CPU a pod's informer event costs the endpoints and endpointslice controllers'
handlers (which services select the pod, then queue them), with 1,000 Services in the pod's
namespace, in one process with no I/O (informers never started, nothing is sent).  CPU time
(`time.process_time`), because this machine is shared.  Target: under 50 us per event for both
handlers together (a 1,000-pod rollout is some 5,000 pod events).

Run: `python -m benchmarks.bench_pod_events [--services 1000 --events 10000 --repeat 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson

from benchmarks._common import report
from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import InformerFactory
from minikube_py.controllers.base import POD, ControllerContext
from minikube_py.controllers.endpoints import SERVICE, EndpointsController
from minikube_py.controllers.endpointslices import EndpointSliceController

TARGET_US = 50.0


class _NoClient:
    server = "none://"


def service(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": "default", "uid": f"s-{i}", "resourceVersion": str(i + 1)},
            "spec": {"selector": {"app": f"app-{i}", "tier": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def pod(i: int, services: int, rv: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p-{i % 3000}", "namespace": "default", "uid": f"u-{i % 3000}",
                         "resourceVersion": str(rv),
                         "labels": {"app": f"app-{i % services}", "tier": "web", "pod-template-hash": "abc"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": f"10.0.{i % 250}.{i % 200 + 1}"}}


def run_once(services: int, events: int, *, handlers: bool) -> float:
    """CPU us per pod event (informer apply + both controllers' handlers, or the apply alone)."""
    client: Any = _NoClient()
    factory = InformerFactory(client)
    ctx = ControllerContext(client, factory, EventRecorder(client, "bench"))
    if handlers:
        EndpointsController(ctx)
        EndpointSliceController(ctx)
    svc_informer = factory.get(SERVICE)
    for i in range(services):
        svc_informer.apply("ADDED", service(i))
    pods = factory.get(POD)
    bodies = [orjson.dumps(pod(i, services, 10_000 + i)) for i in range(events)]
    started = time.process_time()
    for body in bodies:
        pods.apply("MODIFIED", orjson.loads(body))
    return (time.process_time() - started) * 1e6 / events


async def main_async(args: argparse.Namespace) -> None:
    bare = min(run_once(args.services, args.events, handlers=False) for _ in range(args.repeat))
    runs = [run_once(args.services, args.events, handlers=True) for _ in range(args.repeat)]
    best = min(runs)
    report(f"pod event CPU, endpoints + slices ({args.services} svcs)", best, "us", f"< {TARGET_US}",
           best < TARGET_US, f"runs {', '.join(f'{r:.1f}' for r in runs)} us; the informer apply alone {bare:.1f} us")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--events", type=int, default=10000)
    p.add_argument("--repeat", type=int, default=3)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
