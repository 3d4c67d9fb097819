"""Targets (issue 10): a 50-replica Deployment goes from apply to all pods Running in <= 1.3x the
floor, and pod startup p99 <= 5 s (Kubernetes' SLO, images present) with pods created at a steady
5 per second.

The floor is measured in the same run on the same engine: 50 pods' worth of containers (a pause
container and a busybox container joining its network namespace each) created and started with
the Docker SDK, 4 at a time (the size of the agent's Docker thread pool).  Ours: a real master (sqlite)
and one `minikube-py agent`; the clock starts when the Deployment is POSTed and stops when a watch
on its pods has seen every one Running.  Startup latency per pod: from its create's response to
the watch event that shows it Running.  Run: `python -m benchmarks.bench_pod_startup`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker

from benchmarks._agent import AgentCluster, agent_cluster, ours
from benchmarks._common import report, session

RATIO_TARGET = 1.3
P99_TARGET_S = 5.0
FLOOR_LABEL = "io.minikube-py.bench"


def floor(count: int, parallel: int) -> float:
    """Seconds to create and start `count` pause+busybox pairs (the second in the first's netns)."""
    client = docker.from_env(timeout=120)
    run = uuid.uuid4().hex[:6]
    labels = {FLOOR_LABEL: run, "io.minikube-py.owner": f"bench-floor/{run}"}  # ours, by the usual label
    net = client.networks.create(f"minikube-py-bench-{run}", driver="bridge", labels=labels)

    def one(i: int) -> None:
        pause = client.containers.run("registry.k8s.io/pause:3.10", name=f"bench-{run}-pause-{i}", detach=True,
                                      network=net.name, labels=labels)
        client.containers.run("busybox:latest", ["sleep", "3600"], name=f"bench-{run}-app-{i}", detach=True,
                              network_mode=f"container:{pause.id}", labels=labels)

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, range(count)))
        return time.perf_counter() - start
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{FLOOR_LABEL}={run}"}):
            c.remove(force=True)
        net.remove()
        client.close()


def _running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    cs = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(cs) and all("running" in (c.get("state") or {}) for c in cs)


def _spec(name: str) -> dict[str, Any]:
    return {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                            "command": ["sleep", "3600"]}]}


async def _wait_node(c: AgentCluster) -> None:
    async with session(c.server, 2) as s:
        for _ in range(600):
            async with s.get(f"/api/v1/nodes/{c.node}") as r:
                if r.status == 200:
                    node = await r.json()
                    ready = [x for x in node["status"].get("conditions") or [] if x["type"] == "Ready"]
                    if node["spec"].get("podCIDR") and ready and ready[0]["status"] == "True":
                        await asyncio.sleep(1.0)  # the agent creates its pod network once the CIDR is in
                        return
            await asyncio.sleep(0.1)
    raise SystemExit(f"node {c.node} did not become Ready")


async def _watch_running(s: Any, selector: str, rv: str, want: int, seen: dict[str, float]) -> None:
    params = {"watch": "true", "resourceVersion": rv, "labelSelector": selector}
    async with s.get("/api/v1/namespaces/default/pods", params=params, timeout=None) as w:
        async for line in w.content:
            if not line.strip():
                continue
            obj = json.loads(line)["object"]
            name = obj["metadata"]["name"]
            if name not in seen and _running(obj):
                seen[name] = time.perf_counter()
                if len(seen) >= want:
                    return
    raise SystemExit("the watch ended early")


async def _list_rv(s: Any) -> str:
    async with s.get("/api/v1/namespaces/default/pods", params={"limit": "1"}) as r:
        return str((await r.json())["metadata"]["resourceVersion"])


async def _delete_all(s: Any, c: AgentCluster) -> None:
    async with s.delete("/apis/apps/v1/namespaces/default/deployments/bench") as r:
        assert r.status in (200, 404)
    async with s.delete("/api/v1/namespaces/default/pods", params={"gracePeriodSeconds": "0"}) as r:
        assert r.status == 200, await r.text()
    for _ in range(1200):
        async with s.get("/api/v1/namespaces/default/pods") as r:
            if not (await r.json())["items"]:
                break
        await asyncio.sleep(0.25)
    client = docker.from_env()
    try:
        for _ in range(240):  # the agent removes the containers of deleted pods
            if not ours(client, c.node)[0]:
                break
            await asyncio.sleep(0.5)
    finally:
        client.close()


async def deployment(c: AgentCluster, replicas: int) -> float:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"}}, "spec": _spec("bench")}}}
    async with session(c.server, 8) as s:
        rv = await _list_rv(s)
        seen: dict[str, float] = {}
        watch = asyncio.create_task(_watch_running(s, "app=bench", rv, replicas, seen))
        start = time.perf_counter()
        async with s.post("/apis/apps/v1/namespaces/default/deployments", json=body) as r:
            assert r.status == 201, await r.text()
        await asyncio.wait_for(watch, 600)
        took = max(seen.values()) - start
        await _delete_all(s, c)
        return took


async def steady(c: AgentCluster, count: int, rate: float) -> list[float]:
    async with session(c.server, 8) as s:
        rv = await _list_rv(s)
        seen: dict[str, float] = {}
        created: dict[str, float] = {}
        watch = asyncio.create_task(_watch_running(s, "app=steady", rv, count, seen))
        start = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            name = f"steady-{i}"
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "steady"}},
                    "spec": _spec(name)}
            async with s.post("/api/v1/namespaces/default/pods", json=body) as r:
                assert r.status == 201, await r.text()
                created[name] = time.perf_counter()
        await asyncio.wait_for(watch, 600)
        await _delete_all(s, c)
        return sorted(seen[n] - created[n] for n in created)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--replicas", type=int, default=50)
    p.add_argument("--steady", type=int, default=50, help="pods created at --rate for the latency figure")
    p.add_argument("--rate", type=float, default=5.0)
    args = p.parse_args()
    print(f"floor: {args.replicas} pause+busybox pairs with the Docker SDK, 4 at a time ...", flush=True)
    floor_s = floor(args.replicas, 4)
    one_pair = sorted(floor(1, 1) for _ in range(3))[1]
    with agent_cluster("bench-startup") as c:
        asyncio.run(_wait_node(c))
        print(f"{args.replicas}-replica Deployment on the agent ...", flush=True)
        ours = asyncio.run(deployment(c, args.replicas))
        print(f"{args.steady} pods at {args.rate:g}/s ...", flush=True)
        latencies = asyncio.run(steady(c, args.steady, args.rate))
    ratio = ours / floor_s
    report(f"{args.replicas}-replica Deployment, apply to all Running", ours, "s", f"<= {RATIO_TARGET}x floor",
           ratio <= RATIO_TARGET, f"Docker SDK floor {floor_s:.1f} s, ratio {ratio:.2f}x")
    p50, p99 = _pct(latencies, 0.5), _pct(latencies, 0.99)
    report(f"pod startup p99 at {args.rate:g} pods/s ({args.steady} pods)", p99, "s", f"<= {P99_TARGET_S:.0f} s",
           p99 <= P99_TARGET_S, f"p50 {p50:.2f} s; one pair alone on Docker {one_pair:.2f} s")


if __name__ == "__main__":
    main()
