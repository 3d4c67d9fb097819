"""`minikube-py fault-proxy`: a proxy between a component and the apiserver that makes things go
wrong on purpose, to watch the control loops heal (and to test that they do).

Point a component's kubeconfig at the proxy (it writes one with `--write-kubeconfig`) and it
forwards everything to the real apiserver, except that it

- fails a fraction of writes *before* forwarding them (so a failure means nothing happened), with
  500 InternalError, 503 ServiceUnavailable, 409 Conflict or 429 TooManyRequests + Retry-After;
- forwards a fraction of writes and then answers 504 Timeout ("the request may have succeeded"):
  the write happened, the component cannot know;
- delays a fraction of requests;
- cuts watch streams after a few seconds (the connection is dropped mid-stream);
- holds watch events back for a while (a component whose cache runs behind the store).

`GET /debug/faults` on the proxy returns what it did (and the plan); `PUT /debug/faults` with a
JSON plan changes it while running.  The integration tests and benchmarks/bench_faults.py start it;
nothing else depends on it.  It listens on loopback only, over plain HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import signal
import ssl
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from ..client.kubeconfig import ConfigError, Connection, KubeConfig

WRITES = ("POST", "PUT", "PATCH", "DELETE")
_RESOURCE = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/([^/]+)(?:/[^/]+(/[^/]+)?)?$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "upgrade", "te", "trailer", "proxy-authorization", "proxy-authenticate"}


@dataclass
class FaultPlan:
    fail_writes: float = 0.0  # fraction of writes failed before forwarding
    codes: list[int] = field(default_factory=lambda: [500, 503, 409, 429])
    unknown_writes: float = 0.0  # fraction of writes forwarded, then answered 504
    delay: float = 0.0  # fraction of requests delayed
    max_delay: float = 0.3  # seconds, at most
    cut_watches: float = 0.0  # mean seconds before a watch stream is cut (0: never)
    watch_lag: float = 0.0  # seconds each watch event is held back (a cache that runs behind)
    only: list[str] = field(default_factory=list)  # resources to touch (empty: all): "pods", "pods/binding"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault plan fields: {', '.join(sorted(unknown))}")
        return cls(**data)


def resource_of(path: str) -> str:
    """`pods`, `pods/binding`, `deployments/status` ... of an API path ('' for anything else)."""
    m = _RESOURCE.match(path)
    if not m:
        return ""
    return m.group(1) + (m.group(2) or "")


def _status(code: int, resource: str) -> web.Response:
    reason, message = {
        500: ("InternalError", "Internal error occurred: fault injected by minikube-py fault-proxy"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request (fault injected)"),
        409: ("Conflict", f"Operation cannot be fulfilled on {resource}: the object has been modified; please "
                          "apply your changes to the latest version and try again (fault injected)"),
        429: ("TooManyRequests", "the server has received too many requests and has asked us to try again "
                                 "later (fault injected)"),
        504: ("Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded "
                         "(fault injected after the write was applied: it may have succeeded)"),
    }.get(code, ("InternalError", "fault injected"))
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    headers = {}
    if code == 429:
        body["details"] = {"retryAfterSeconds": 1}
        headers["Retry-After"] = "1"
    return web.json_response(body, status=code, headers=headers)


class FaultProxy:
    def __init__(self, upstream: Connection, plan: FaultPlan | None = None, *, seed: int | None = None) -> None:
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self.random = random.Random(seed)
        self.stats: dict[str, Any] = {"requests": 0, "writes": 0, "failed": {}, "failed_by_resource": {},
                                      "unknown_outcome": 0, "delayed": 0, "watches": 0, "watches_cut": 0,
                                      "created": {}}
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/debug/faults", self._get_faults)
        app.router.add_put("/debug/faults", self._put_faults)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        app.on_cleanup.append(self._close)
        return app

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.upstream.server.startswith("https"):
            return False
        if self.upstream.ca_pem:
            return ssl.create_default_context(cadata=self.upstream.ca_pem.decode())
        ctx = ssl.create_default_context()
        if self.upstream.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=256),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10), auto_decompress=False)
        return self._session

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"plan": asdict(self.plan), "stats": self.stats})

    async def _put_faults(self, request: web.Request) -> web.Response:
        try:
            self.plan = FaultPlan.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"plan": asdict(self.plan)})

    def _count(self, name: str, key: str | None = None) -> None:
        if key is None:
            self.stats[name] += 1
        else:
            self.stats[name][key] = self.stats[name].get(key, 0) + 1

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        plan, rng = self.plan, self.random
        resource = resource_of(request.path)
        touched = not plan.only or resource in plan.only
        write = request.method in WRITES
        self._count("requests")
        if write:
            self._count("writes")
        if touched and plan.delay and rng.random() < plan.delay:
            self._count("delayed")
            await asyncio.sleep(rng.uniform(0, plan.max_delay))
        if touched and write and plan.fail_writes and rng.random() < plan.fail_writes:
            code = rng.choice(plan.codes)
            self._count("failed", str(code))
            self._count("failed_by_resource", f"{request.method} {resource or request.path} {code}")
            return _status(code, resource)
        body = await request.read() if request.can_read_body else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        watch = request.method == "GET" and request.query.get("watch") in ("true", "1")
        url = self.upstream.server.rstrip("/") + request.path_qs
        try:
            upstream = await self.session.request(request.method, url, headers=headers, data=body,
                                                  allow_redirects=False)
        except aiohttp.ClientError as exc:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503,
                                      "reason": "ServiceUnavailable",
                                      "message": f"fault-proxy: the apiserver did not answer: {exc}"}, status=503)
        try:
            if watch and upstream.status == 200:
                return await self._stream(request, upstream)
            payload = await upstream.read()
        finally:
            upstream.release()
        if request.method == "POST" and upstream.status == 201 and "/" not in resource:
            self._count("created", resource)
        if touched and write and upstream.status < 300 and plan.unknown_writes and rng.random() < plan.unknown_writes:
            self._count("unknown_outcome")
            return _status(504, resource)
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        return web.Response(status=upstream.status, body=payload, headers=out_headers)

    async def _stream(self, request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        self._count("watches")
        plan = self.plan
        cut_at = None
        if plan.cut_watches:
            cut_at = asyncio.get_running_loop().time() + self.random.uniform(0.5, 1.5) * plan.cut_watches
        resp = web.StreamResponse(status=200, headers={
            k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP})
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        lag = plan.watch_lag

        async def read() -> None:
            while True:
                chunk = await upstream.content.readany()
                await chunks.put((loop.time() + lag, chunk))
                if not chunk:
                    return

        reader = asyncio.create_task(read())
        try:
            while True:
                timeout = None if cut_at is None else max(0.0, cut_at - loop.time())
                try:
                    due, chunk = await asyncio.wait_for(chunks.get(), timeout)
                    if due > loop.time():
                        await asyncio.wait_for(asyncio.sleep(due - loop.time()),
                                               None if cut_at is None else max(0.0, cut_at - loop.time()))
                except TimeoutError:
                    self._count("watches_cut")
                    if request.transport is not None:
                        request.transport.close()  # dropped mid-stream, as a broken connection is
                    return resp
                if not chunk:
                    break
                await resp.write(chunk)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await reader
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp


def write_kubeconfig(path: Path, server: str, upstream: Connection) -> None:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "fault-proxy",
              "clusters": [{"name": "fault-proxy", "cluster": {"server": server}}],
              "users": [{"name": "fault-proxy", "user": {"token": upstream.token or ""}}],
              "contexts": [{"name": "fault-proxy", "context": {"cluster": "fault-proxy", "user": "fault-proxy"}}]}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


async def _serve(proxy: FaultProxy, port: int, kubeconfig_out: Path | None) -> None:
    runner = web.AppRunner(proxy.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    url = f"http://127.0.0.1:{bound}"
    if kubeconfig_out is not None:
        write_kubeconfig(kubeconfig_out, url, proxy.upstream)
    print(f"fault-proxy listening on {url}, forwarding to {proxy.upstream.server}; plan: {asdict(proxy.plan)}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_fault_proxy(args: argparse.Namespace) -> int:
    from .main import UserError

    try:
        upstream = KubeConfig.load(args.kubeconfig).connection()
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --kubeconfig <data-dir>/kubeconfig") from None
    for name in ("fail_writes", "unknown_writes", "delay"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise UserError(f"--{name.replace('_', '-')} must be a fraction between 0 and 1, not {value}")
    try:
        codes = [int(c) for c in args.codes.split(",") if c.strip()]
    except ValueError:
        raise UserError(f"--codes must be HTTP codes separated by commas, not {args.codes!r}") from None
    unknown = sorted(set(codes) - {500, 503, 409, 429})
    if not codes or unknown:
        raise UserError(f"--codes: choose among 500, 503, 409 and 429 (not {unknown or 'nothing'})")
    plan = FaultPlan(codes=codes, fail_writes=args.fail_writes, unknown_writes=args.unknown_writes, delay=args.delay,
                     cut_watches=args.cut_watches, watch_lag=args.watch_lag,
                     only=[r for r in args.only.split(",") if r])
    proxy = FaultProxy(upstream, plan, seed=args.seed)
    import uvloop

    try:
        uvloop.run(_serve(proxy, args.port, args.write_kubeconfig))
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; pick another --port") \
            from None
    return 0
