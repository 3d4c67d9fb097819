"""Target: p99 latency of a single create <= 25 ms at a steady 200 requests/s (open loop).

Requests are sent on a fixed schedule, whatever the previous ones are doing, so queueing shows
in the figure.  Baseline: the same schedule against the raw store in-process is not comparable;
we print the p50/p99 of an empty HTTPS handler on the same schedule instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp

from benchmarks._common import pod, report, server, session


async def paced(s: aiohttp.ClientSession, path: str, rate: float, seconds: float, prefix: str) -> list[float]:
    latencies: list[float] = []
    interval = 1.0 / rate
    total = int(rate * seconds)

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        async with s.post(path, json=pod(f"{prefix}-{i}")) as resp:
            await resp.read()
            if resp.status != 201:
                raise RuntimeError(f"create failed: {resp.status}")
        latencies.append(time.perf_counter() - t0)

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] * 1000


async def run(store: str, seconds: float) -> None:
    with server(store) as srv:
        async with session(srv) as s:
            path = "/api/v1/namespaces/default/pods"
            await paced(s, path, 200, 1, "warm")
            lat = await paced(s, path, 200, seconds, "lat")
    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    report(f"single create p50 at 200 req/s ({store})", p50, "ms", "-", True)
    report(f"single create p99 at 200 req/s ({store})", p99, "ms", "<= 25", p99 <= 25)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd", "both"], default="both")
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    for store in (["sqlite", "etcd"] if args.store == "both" else [args.store]):
        asyncio.run(run(store, args.seconds))


if __name__ == "__main__":
    main()
