"""Target: watch event p99 latency <= 100 ms to 100 concurrent watchers.

100 watchers watch the pods of one namespace; a writer creates pods at a steady rate, each
stamped with its send time in an annotation; every watcher records now - stamp for every
event.  Baseline in the same run: the create round-trip p99 (a write's own latency).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp
import orjson

from benchmarks._common import pod, report, server, session


async def watcher(s: aiohttp.ClientSession, path: str, rv: str, expect: int, out: list[float],
                  ready: asyncio.Event, counter: list[int], n: int) -> None:
    async with s.get(f"{path}?watch=true&resourceVersion={rv}&timeoutSeconds=120") as resp:
        counter[0] += 1
        if counter[0] == n:
            ready.set()
        seen = 0
        while seen < expect:
            line = await resp.content.readline()
            if not line:
                break
            now = time.time()
            ev = orjson.loads(line)
            stamp = ev["object"]["metadata"].get("annotations", {}).get("bench/sent")
            if stamp:
                out.append(now - float(stamp))
                seen += 1


async def run(store: str, watchers: int, events: int, rate: float) -> None:
    with server(store) as srv:
        async with session(srv, connections=watchers + 20) as s:
            path = "/api/v1/namespaces/default/pods"
            rv = (await (await s.get(path + "?limit=1")).json())["metadata"]["resourceVersion"]
            lat: list[float] = []
            ready, counter = asyncio.Event(), [0]
            tasks = [asyncio.create_task(watcher(s, path, rv, events, lat, ready, counter, watchers))
                     for _ in range(watchers)]
            await asyncio.wait_for(ready.wait(), 60)
            await asyncio.sleep(0.5)
            writes: list[float] = []
            start = time.perf_counter()
            for i in range(events):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = pod(f"w-{i}")
                body["metadata"]["annotations"] = {"bench/sent": repr(time.time())}  # type: ignore[index]
                t0 = time.perf_counter()
                async with s.post(path, json=body) as resp:
                    await resp.read()
                writes.append(time.perf_counter() - t0)
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
    assert len(lat) == watchers * events, f"got {len(lat)} of {watchers * events} events"
    p99 = statistics.quantiles(lat, n=100)[98] * 1000
    p50 = statistics.median(lat) * 1000
    wp99 = statistics.quantiles(writes, n=100)[98] * 1000
    report(f"watch event p50, {watchers} watchers ({store})", p50, "ms", "-", True)
    report(f"watch event p99, {watchers} watchers ({store})", p99, "ms", "<= 100", p99 <= 100,
           f"create round-trip p99 {wp99:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd", "both"], default="both")
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--rate", type=float, default=20, help="creates per second")
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    for store in (["sqlite", "etcd"] if args.store == "both" else [args.store]):
        asyncio.run(run(store, args.watchers, args.events, args.rate))


if __name__ == "__main__":
    main()
