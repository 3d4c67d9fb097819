"""Target: scheduler throughput >= 500 pods/s with 1,000 hollow nodes and 10,000 pending pods,
binding included (kube-scheduler's own CI floor is 270 pods/s at 5,000 nodes).

The apiserver runs alone (sqlite); 1,000 hollow nodes register and heartbeat; 10,000 pods with
requests are created unscheduled; then `minikube-py scheduler` starts and the clock runs from its
"informers synced" moment to the moment no pod is left without a node.  Baseline in the same run:
the apiserver's rate for the same number of bare `pods/binding` writes from one client (what the
scheduler would reach if choosing a node cost nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks._common import pod, report, server, session
from benchmarks._server import RunningServer, start_hollow_nodes, stop_server

TARGET = 500.0


async def create_pods(srv: RunningServer, count: int, prefix: str) -> None:
    async with session(srv, 64) as s:
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with sem:
                async with s.post("/api/v1/namespaces/default/pods", json=pod(f"{prefix}-{i}")) as r:
                    if r.status != 201:
                        raise SystemExit(f"create failed: {r.status} {await r.text()}")

        await asyncio.gather(*(one(i) for i in range(count)))


async def unbound(srv: RunningServer) -> int:
    """1 while some pod has no node yet, else 0 (one-item pages keep the probe cheap)."""
    async with session(srv, 2) as s, s.get("/api/v1/namespaces/default/pods",
                                           params={"fieldSelector": "spec.nodeName=", "limit": "1"}) as r:
        data = await r.json()
        return len(data["items"])


async def bind_baseline(srv: RunningServer, count: int, nodes: list[str]) -> float:
    """Bare bindings, 64 in flight, no decision: the apiserver's ceiling for this workload."""
    await create_pods(srv, count, "base")
    async with session(srv, 64) as s:
        sem = asyncio.Semaphore(64)

        async def bind(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"base-{i}"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": nodes[i % len(nodes)]}}
            async with sem, s.post(f"/api/v1/namespaces/default/pods/base-{i}/binding", json=body) as r:
                if r.status != 201:
                    raise SystemExit(f"bind failed: {r.status} {await r.text()}")

        start = time.perf_counter()
        await asyncio.gather(*(bind(i) for i in range(count)))
        return count / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    args = p.parse_args()
    with server("sqlite") as srv:
        print(f"registering {args.nodes} hollow nodes ...", flush=True)
        hollow = start_hollow_nodes(srv, args.nodes, cpu="32", memory="128Gi", timeout=300, timing="kubernetes")
        try:
            print(f"creating {args.pods} pending pods ...", flush=True)
            started = time.perf_counter()
            asyncio.run(create_pods(srv, args.pods, "p"))
            print(f"  created in {time.perf_counter() - started:.1f}s; starting the scheduler", flush=True)
            log_path = Path(srv.data_dir) / "scheduler.log"
            with log_path.open("wb") as log:
                sched = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", "scheduler", "--kubeconfig",
                                          str(srv.kubeconfig)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
            try:
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    left = asyncio.run(unbound(srv))
                    if left == 0:
                        break
                    time.sleep(0.2)
                done_at = datetime.now()
                text = log_path.read_text()
                m = re.search(r"^(\S+ \S+) INFO minikube_py.scheduler: scheduler: informers synced", text, re.M)
                if not m or left:
                    raise SystemExit(f"the scheduler did not finish ({left} pods left):\n{text[-3000:]}")
                synced = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
                seconds = (done_at - synced).total_seconds()
            finally:
                stop_server(sched)
            rate = args.pods / seconds
            names = [f"hollow-node-{i}" for i in range(args.nodes)]
            baseline = asyncio.run(bind_baseline(srv, min(args.pods, 3000), names))
            report(f"scheduler pods/s ({args.nodes} nodes, {args.pods} pods)", rate, "pods/s",
                   f">= {TARGET:.0f}", rate >= TARGET, f"bare bindings from one client: {baseline:.0f}/s")
        finally:
            stop_server(hollow)


if __name__ == "__main__":
    main()
