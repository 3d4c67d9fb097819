"""Target: a 1,000-replica Deployment on 100 hollow nodes goes from apply to all available in
<= 10 s on this 2-core machine.

The whole master runs (apiserver on sqlite, scheduler, controllers) with 100 hollow nodes in a
second process; the clock starts when the Deployment is POSTed and stops when its status says
1,000 available (watched, not polled).  Baseline in the same run: the time to create the same
1,000 pods directly through the API with 64 clients (no controllers, no scheduling).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from benchmarks._common import cluster, pod, report, session
from benchmarks._server import RunningServer

TARGET_S = 10.0


def deployment(name: str, replicas: int) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "resources": {
                                      "requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


async def roll_out(srv: RunningServer, replicas: int) -> float:
    async with session(srv, 8) as s:
        start = time.perf_counter()
        async with s.post("/apis/apps/v1/namespaces/default/deployments", json=deployment("big", replicas)) as r:
            assert r.status == 201, await r.text()
            rv = (await r.json())["metadata"]["resourceVersion"]
        params = {"watch": "true", "resourceVersion": rv, "fieldSelector": "metadata.name=big"}
        async with s.get("/apis/apps/v1/namespaces/default/deployments", params=params,
                         timeout=None) as w:
            async for line in w.content:
                if not line.strip():
                    continue
                status = json.loads(line)["object"].get("status") or {}
                if status.get("availableReplicas") == replicas and status.get("updatedReplicas") == replicas:
                    return time.perf_counter() - start
    raise SystemExit("the watch ended before the deployment was available")


async def direct_creates(srv: RunningServer, count: int) -> float:
    async with session(srv, 64) as s:
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem, s.post("/api/v1/namespaces/default/pods", json=pod(f"direct-{i}")) as r:
                assert r.status == 201

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replicas", type=int, default=1000)
    args = p.parse_args()
    with cluster(args.nodes, cpu="16", memory="64Gi", prefix="bench-deploy") as srv:
        seconds = asyncio.run(asyncio.wait_for(roll_out(srv, args.replicas), 300))
        baseline = asyncio.run(direct_creates(srv, args.replicas))
        report(f"{args.replicas}-replica Deployment, apply to available", seconds, "s", f"<= {TARGET_S:.0f} s",
               seconds <= TARGET_S, f"{args.replicas} bare pod creates, 64 clients: {baseline:.1f} s")


if __name__ == "__main__":
    main()
