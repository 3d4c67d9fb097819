"""Target: the server's memory comes back: RSS after 10 batches of 20,000 updates of 20 KB
ConfigMaps, with two stalled watches open, within 1.5x of its RSS after the first batch.

Two watches send their request and never read (what a hung client does); writers update a set of
ConfigMaps with fresh 20 KB values, 32 at a time.  After each batch the server's RSS is read
from /proc.  What bounds it: per-watcher queues bounded by bytes (a stalled watch is cut), the
broadcaster's bounded ring, and the store's history bounded by count and bytes.  Baseline in the
same run: the RSS of the idle server before the first batch.  `--quick`: 10 batches of 2,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import time
from pathlib import Path

import aiohttp

from benchmarks._server import RunningServer, server

CMS = "/api/v1/namespaces/default/configmaps"
OBJECTS = 200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stalled_watch(srv: RunningServer, rv: str) -> ssl.SSLSocket:
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", srv.port))
    tls = srv.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall((f"GET {CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=3600 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {srv.token}\r\nUser-Agent: bench-watch-memory/stalled\r\n\r\n").encode())
    return tls


async def batch(s: aiohttp.ClientSession, updates: int, size: int, offset: int) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(updates):
        queue.put_nowait(offset + i)
    headers = {"Content-Type": "application/merge-patch+json"}

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {"data": {"blob": os.urandom(size // 2).hex()}}
            async with s.patch(f"{CMS}/mem-{i % OBJECTS}", json=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"update answered {resp.status}")

    await asyncio.gather(*(worker() for _ in range(32)))


async def run(store: str, batches: int, updates: int, size: int) -> None:
    with server(store) as srv:
        pid = srv.process.pid
        async with aiohttp.ClientSession(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"},
                                         connector=aiohttp.TCPConnector(ssl=srv.ssl_context(), limit=40)) as s:
            for i in range(OBJECTS):
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"mem-{i}"},
                        "data": {"blob": "x" * size}}
                async with s.post(CMS, json=body) as resp:
                    await resp.read()
            async with s.get(CMS + "?limit=1") as resp:
                rv = (await resp.json())["metadata"]["resourceVersion"]
            watches = [stalled_watch(srv, rv) for _ in range(2)]
            idle = rss_mb(pid)
            print(f"  idle, {OBJECTS} ConfigMaps of {size // 1000} KB, 2 stalled watches: RSS {idle:.0f} MB", flush=True)
            after: list[float] = []
            for b in range(batches):
                t0 = time.perf_counter()
                await batch(s, updates, size, b * updates)
                after.append(rss_mb(pid))
                print(f"  batch {b + 1}: {updates} updates in {time.perf_counter() - t0:.1f} s, RSS {after[-1]:.0f} MB",
                      flush=True)
            metrics = await (await s.get("/metrics")).text()
            for w in watches:
                w.close()
    cut = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
              if line.startswith("apiserver_terminated_watchers_total{"))
    ratio = after[-1] / after[0]
    verdict = "meets target" if ratio <= 1.5 else "MISSES target"
    print(f"server RSS after batch {batches} / after batch 1 ({store}): {ratio:.2f} ({after[0]:.0f} -> "
          f"{after[-1]:.0f} MB, peak {max(after):.0f} MB); target <= 1.50: {verdict}   (baseline in the same run: "
          f"idle server {idle:.0f} MB; stalled watches cut: {cut:.0f})", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd"], default="sqlite")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--updates", type=int, default=20_000, help="updates per batch")
    p.add_argument("--size", type=int, default=20_000, help="bytes of each ConfigMap's value")
    p.add_argument("--quick", action="store_true", help="10 batches of 2,000 updates")
    args = p.parse_args()
    if args.quick:
        args.updates = 2_000
    asyncio.run(run(args.store, args.batches, args.updates, args.size))


if __name__ == "__main__":
    main()
