"""Target: the master (apiserver + scheduler + controllers, one process) holds <= 1 GB RSS with
1,000 nodes and 30,000 pods.

1,000 hollow nodes run in a second process; 30 Deployments of 1,000 replicas are created and the
benchmark waits until every one is available, then reads the master's VmRSS (and its peak,
VmHWM).  Baseline in the same run: the master's RSS on the empty cluster before the load.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from benchmarks._common import cluster, report, session
from benchmarks._server import RunningServer
from benchmarks.bench_deployment import deployment

TARGET_MB = 1024.0


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(srv: RunningServer, deployments: int, replicas: int) -> float:
    async with session(srv, 8) as s:
        for i in range(deployments):
            async with s.post("/apis/apps/v1/namespaces/default/deployments",
                              json=deployment(f"load-{i}", replicas)) as r:
                assert r.status == 201, await r.text()
        start = time.perf_counter()
        want = deployments * replicas
        last_print = 0.0
        while time.perf_counter() - start < 1800:
            async with s.get("/apis/apps/v1/namespaces/default/deployments") as r:
                items = (await r.json())["items"]
            available = sum((d.get("status") or {}).get("availableReplicas", 0) for d in items)
            if available >= want:
                return time.perf_counter() - start
            if time.perf_counter() - last_print > 15:
                print(f"  {available}/{want} pods available after {time.perf_counter() - start:.0f}s", flush=True)
                last_print = time.perf_counter()
            await asyncio.sleep(2)
    raise SystemExit("the pods did not all become available within 30 minutes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--deployments", type=int, default=30)
    p.add_argument("--replicas", type=int, default=1000)
    args = p.parse_args()
    with cluster(args.nodes, cpu="64", memory="256Gi", prefix="bench-mem") as srv:
        empty = rss_mb(srv.process.pid)
        pods = args.deployments * args.replicas
        print(f"creating {args.deployments} deployments x {args.replicas} replicas ...", flush=True)
        seconds = asyncio.run(load(srv, args.deployments, args.replicas))
        rss, peak = rss_mb(srv.process.pid), rss_mb(srv.process.pid, "VmHWM")
        report(f"master RSS, {args.nodes} nodes + {pods} pods", rss, "MB", f"<= {TARGET_MB:.0f} MB",
               rss <= TARGET_MB, f"empty cluster {empty:.0f} MB; peak {peak:.0f} MB; all available "
                                 f"after {seconds:.0f} s")


if __name__ == "__main__":
    main()
