"""Target: LIST of 10,000 pods <= 1 s (full JSON list through the apiserver, TLS included).

Baseline in the same run: fetching the same number of bytes from a static HTTPS handler.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

from benchmarks._common import report, server, session
from benchmarks._server import free_port
from benchmarks.bench_create import _drive


async def static_fetch(payload: bytes, srv_pki: tuple[str, str, str]) -> float:
    import ssl

    import aiohttp

    ca, cert, key = srv_pki

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=ssl.create_default_context(cafile=ca))) as s:
            best = 1e9
            for _ in range(3):
                t0 = time.perf_counter()
                async with s.get(f"https://127.0.0.1:{port}/") as resp:
                    await resp.read()
                best = min(best, time.perf_counter() - t0)
            return best
    finally:
        await runner.cleanup()


async def run(store: str, count: int) -> None:
    with server(store) as srv:
        async with session(srv) as s:
            print(f"  creating {count} pods on {store} ...", flush=True)
            await _drive(s, "/api/v1/namespaces/default/pods", count, 64, "list")
            best, size, items = 1e9, 0, 0
            for _ in range(3):
                t0 = time.perf_counter()
                async with s.get("/api/v1/namespaces/default/pods") as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"LIST failed: {resp.status} {body[:300]!r}")
                best = min(best, time.perf_counter() - t0)
                size = len(body)
                items = body.count(b'"uid"')
            pki = srv.data_dir / "pki"
            base = await static_fetch(body, (str(pki / "ca.crt"), str(pki / "apiserver.crt"), str(pki / "apiserver.key")))
    assert items >= count, f"expected {count} pods, got {items}"
    report(f"LIST {count} pods ({store}, {size / 1e6:.1f} MB)", best * 1000, "ms", "<= 1000", best <= 1.0,
           f"static {size / 1e6:.1f} MB over HTTPS {base * 1000:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd", "both"], default="both")
    p.add_argument("--count", type=int, default=10000)
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
