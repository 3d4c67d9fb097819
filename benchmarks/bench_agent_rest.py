"""Target (issue 10): the agent at rest with 50 pods uses <= 3% of a core and <= 150 MB RSS
(k3s' agent: 3%, 275 MB).

A real master (sqlite) and one `minikube-py agent`, Kubernetes' timing profile (lease renewed every
10 s, pods resynced as often); 50 busybox pods are started and left to settle, then the agent's
CPU time (user + system, all threads, from /proc) and its RSS are read over a window.  Reported
beside it, measured over the same window: what the Docker daemon spent (the agent's resyncs cost
it calls too).  Run: `python -m benchmarks.bench_agent_rest [--pods 50 --window 60]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time

from benchmarks._agent import AgentCluster, agent_cluster
from benchmarks._common import report, session
from benchmarks.bench_pod_startup import _list_rv, _spec, _wait_node, _watch_running

CPU_TARGET = 3.0  # percent of one core
RSS_TARGET_MB = 150.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dockerd_pid() -> int | None:
    out = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


async def start_pods(c: AgentCluster, count: int) -> None:
    async with session(c.server, 8) as s:
        rv = await _list_rv(s)
        seen: dict[str, float] = {}
        watch = asyncio.create_task(_watch_running(s, "app=rest", rv, count, seen))
        for i in range(count):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"rest-{i}", "labels": {"app": "rest"}},
                    "spec": _spec(f"rest-{i}")}
            async with s.post("/api/v1/namespaces/default/pods", json=body) as r:
                assert r.status == 201, await r.text()
        await asyncio.wait_for(watch, 600)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pods", type=int, default=50)
    p.add_argument("--settle", type=float, default=30.0, help="seconds left to settle before measuring")
    p.add_argument("--window", type=float, default=60.0)
    args = p.parse_args()
    with agent_cluster("bench-rest", timing="kubernetes") as c:
        asyncio.run(_wait_node(c))
        print(f"starting {args.pods} pods ...", flush=True)
        asyncio.run(start_pods(c, args.pods))
        print(f"settling {args.settle:.0f} s, then measuring {args.window:.0f} s ...", flush=True)
        time.sleep(args.settle)
        dockerd = dockerd_pid()
        a0, d0, t0 = cpu_seconds(c.agent.pid), cpu_seconds(dockerd) if dockerd else 0.0, time.monotonic()
        time.sleep(args.window)
        a1, d1, t1 = cpu_seconds(c.agent.pid), cpu_seconds(dockerd) if dockerd else 0.0, time.monotonic()
        rss = rss_mb(c.agent.pid)
    agent_pct = 100 * (a1 - a0) / (t1 - t0)
    dockerd_pct = 100 * (d1 - d0) / (t1 - t0)
    report(f"agent CPU at rest, {args.pods} pods", agent_pct, "% core", f"<= {CPU_TARGET:g}%", agent_pct <= CPU_TARGET,
           f"dockerd in the same window {dockerd_pct:.1f}%")
    report(f"agent RSS at rest, {args.pods} pods", rss, "MB", f"<= {RSS_TARGET_MB:.0f} MB", rss <= RSS_TARGET_MB,
           "k3s' agent: 275 MB")


if __name__ == "__main__":
    main()
