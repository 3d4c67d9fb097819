"""Target: >= 1,500 creates/s with 64 concurrent clients on sqlite, >= 1,000 on etcd (2 cores).

Also prints the sequential (one client) rate.  Baseline: the same client against an HTTPS
aiohttp endpoint that answers 201 without doing anything (the HTTP+TLS floor of this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from benchmarks._common import pod, report, server, session
from benchmarks._server import free_port

TARGETS = {"sqlite": 1500.0, "etcd": 1000.0}


async def _drive(s: aiohttp.ClientSession, path: str, total: int, concurrency: int, prefix: str) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            async with s.post(path, json=pod(f"{prefix}-{i}")) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"create failed: {resp.status} {await resp.text()}")
                await resp.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def floor(total: int, concurrency: int, ca: Path, cert: Path, key: Path) -> float:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"kind": "Pod"}, status=201)

    app = web.Application()
    app.router.add_post("/{tail:.*}", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(ca))
        async with aiohttp.ClientSession(base_url=f"https://127.0.0.1:{port}",
                                         connector=aiohttp.TCPConnector(ssl=client_ctx, limit=100)) as s:
            return await _drive(s, "/x", total, concurrency, "floor")
    finally:
        await runner.cleanup()


async def run(store: str, total: int) -> None:
    with server(store) as srv:
        async with session(srv) as s:
            path = "/api/v1/namespaces/default/pods"
            await _drive(s, path, 200, 8, "warm")
            seq = await _drive(s, path, max(200, total // 10), 1, "seq")
            conc = await _drive(s, path, total, 64, "conc")
        pki = srv.data_dir / "pki"
        base = await floor(total, 64, pki / "ca.crt", pki / "apiserver.crt", pki / "apiserver.key")
    report(f"creates/s, 1 client ({store})", seq, "ops/s", "-", True)
    report(f"creates/s, 64 clients ({store})", conc, "ops/s", f">= {TARGETS[store]:.0f}", conc >= TARGETS[store],
           f"empty HTTPS handler {base:.0f} ops/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd", "both"], default="both")
    p.add_argument("--count", type=int, default=6000)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    for store in (["sqlite", "etcd"] if args.store == "both" else [args.store]):
        asyncio.run(run(store, args.count))


if __name__ == "__main__":
    main()
