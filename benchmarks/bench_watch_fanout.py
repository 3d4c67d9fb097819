"""Target: 400 reading + 100 stalled watchers at 100 creates/s: every reader gets every event,
delivery p99 <= 1 s; the server sheds the stalled watchers, never the readers.

Readers run in separate processes and are cheap: a raw TLS protocol that counts events and reads
the send time stamped into each ConfigMap, without parsing JSON.  Stalled watchers send their
request and never read (4 KiB receive buffers).  A writer creates small ConfigMaps at a steady
rate for a bounded time.  Printed: delivery p50/p99, events lost per reader, watchers cut
(readers and stalled), and the server's CPU seconds per 1,000 delivered events, beside the target
and a baseline measured in the same run (1 reading watcher, nothing stalled).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks._server import RunningServer, server

CMS = "/api/v1/namespaces/default/configmaps"
STAMP = b'"bench/sent":"'
READERS_PER_PROCESS = 100
WATCH_TIMEOUT = 900  # timeoutSeconds of every watch: longer than any run


# --- reader processes --------------------------------------------------------------------------

class _Reader(asyncio.Protocol):
    """One watch stream: counts stamped events and records now - stamp; no JSON parsing."""

    def __init__(self, request: bytes, latencies: array.array[float], progress: asyncio.Event) -> None:
        self.request = request
        self.latencies = latencies
        self.progress = progress
        self.count = 0
        self.ended = False
        self.ok = asyncio.get_running_loop().create_future()
        self._carry = b""
        self._head = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self._carry + data
        if self._head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._carry = buf
                return
            if not self.ok.done():
                self.ok.set_result(buf.startswith(b"HTTP/1.1 200"))
            buf, self._head = buf[end + 4:], False
        pos = 0
        while True:
            i = buf.find(STAMP, pos)
            if i < 0:
                break
            j = buf.find(b'"', i + len(STAMP))
            if j < 0:
                break
            self.latencies.append(now - float(buf[i + len(STAMP):j]))
            self.count += 1
            pos = j
        if buf.endswith(b"\r\n0\r\n\r\n"):
            self.ended = True
        self._carry = buf[max(pos, len(buf) - 64):]
        self.progress.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.progress.set()
        if not self.ok.done():
            self.ok.set_result(False)


async def _reader_main(args: argparse.Namespace) -> None:
    ctx = ssl.create_default_context(cafile=args.ca)
    request = (f"GET {CMS}?watch=true&resourceVersion={args.rv}&timeoutSeconds={WATCH_TIMEOUT} HTTP/1.1\r\n"
               f"Host: 127.0.0.1:{args.port}\r\nAuthorization: Bearer {args.token}\r\n"
               "User-Agent: bench-watch-fanout/reader\r\n\r\n").encode()
    latencies: array.array[float] = array.array("d")
    loop = asyncio.get_running_loop()
    readers: list[_Reader] = []
    progress = asyncio.Event()
    for _ in range(args.connections):
        _, proto = await loop.create_connection(lambda: _Reader(request, latencies, progress), "127.0.0.1", args.port,
                                                ssl=ctx, server_hostname="127.0.0.1")
        readers.append(proto)
    oks = await asyncio.gather(*(r.ok for r in readers))
    print(json.dumps({"ready": sum(oks)}), flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)  # "<events written>" once the writer is done
    expected = int(line or 0)
    deadline = time.monotonic() + args.grace
    while time.monotonic() < deadline and any(r.count < expected and not r.ended for r in readers):
        progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.wait(), deadline - time.monotonic())
    await loop.run_in_executor(None, Path(args.out).write_bytes, latencies.tobytes())
    print(json.dumps({"counts": [r.count for r in readers], "ended": sum(r.ended for r in readers)}), flush=True)


def _stalled_main(args: argparse.Namespace) -> None:
    """Watches that never read: TLS up, request sent, then nothing until told to exit."""
    ctx = ssl.create_default_context(cafile=args.ca)
    socks = []
    for _ in range(args.connections):
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", args.port))
        tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall((f"GET {CMS}?watch=true&resourceVersion={args.rv}&timeoutSeconds={WATCH_TIMEOUT} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\nAuthorization: Bearer {args.token}\r\n"
                     "User-Agent: bench-watch-fanout/stalled\r\n\r\n").encode())
        socks.append(tls)
    print(json.dumps({"ready": len(socks)}), flush=True)
    sys.stdin.readline()
    print(json.dumps({"counts": [], "ended": 0}), flush=True)


# --- the run -----------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and 'resource="configmaps"' in line)


class _Child:
    def __init__(self, srv: RunningServer, rv: str, mode: str, connections: int, grace: float) -> None:
        self.out = tempfile.mktemp(prefix="fanout-", suffix=".lat")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_watch_fanout", f"--{mode}-client", "--port", str(srv.port),
             "--token", srv.token, "--ca", str(srv.ca_file), "--rv", rv, "--connections", str(connections),
             "--out", self.out, "--grace", str(grace)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def message(self) -> dict[str, list[int] | int]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a benchmark client exited with {self.proc.wait()}")
        return dict(json.loads(line))

    def finish(self, written: int) -> tuple[dict[str, list[int] | int], array.array[float]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{written}\n")
        self.proc.stdin.flush()
        result = self.message()
        self.proc.wait(timeout=30)
        lat: array.array[float] = array.array("d")
        if os.path.exists(self.out):
            lat.frombytes(Path(self.out).read_bytes())
            os.unlink(self.out)
        return result, lat


async def _write(s: aiohttp.ClientSession, rate: float, duration: float) -> tuple[int, list[float]]:
    """Small ConfigMaps at `rate` per second for `duration` seconds, each stamped with its send time."""
    n = int(rate * duration)
    round_trips: list[float] = []
    start = time.perf_counter()

    async def one(i: int) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"fan-{i}", "annotations": {"bench/sent": repr(time.time())}},
                "data": {"k": "v"}}
        t0 = time.perf_counter()
        async with s.post(CMS, json=body) as resp:
            await resp.read()
            if resp.status != 201:
                raise RuntimeError(f"create answered {resp.status}")
        round_trips.append(time.perf_counter() - t0)

    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return n, round_trips


async def _scenario(srv: RunningServer, label: str, readers: int, stalled: int, rate: float, duration: float
                    ) -> dict[str, float]:
    ctx = srv.ssl_context()
    async with aiohttp.ClientSession(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"},
                                     connector=aiohttp.TCPConnector(ssl=ctx, limit=32)) as s:
        async with s.delete(CMS) as resp:  # a clean namespace for every scenario
            await resp.read()
        async with s.get(CMS + "?limit=1") as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        before = await (await s.get("/metrics")).text()
        children = [_Child(srv, rv, "reader", min(READERS_PER_PROCESS, readers - i), grace=15)
                    for i in range(0, readers, READERS_PER_PROCESS)]
        if stalled:
            children.append(_Child(srv, rv, "stalled", stalled, grace=0))
        ready = sum(int(c.message()["ready"]) for c in children)  # type: ignore[call-overload]
        if ready != readers + stalled:
            raise RuntimeError(f"only {ready} of {readers + stalled} watches started")
        deadline = time.monotonic() + 30  # until the server has registered every watch
        while _metric(await (await s.get("/metrics")).text(), "apiserver_registered_watchers") < ready:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not register every watch")
            await asyncio.sleep(0.2)
        cpu0 = _cpu_seconds(srv.process.pid)
        written, round_trips = await _write(s, rate, duration)
        results = [c.finish(written) for c in children]
        cpu = _cpu_seconds(srv.process.pid) - cpu0
        after = await (await s.get("/metrics")).text()
    counts = [n for r, _ in results for n in r["counts"]]  # type: ignore[union-attr]
    lat = array.array("d")
    for _, part in results:
        lat.extend(part)
    delivered = sum(counts)
    lost = [written - n for n in counts]
    cut = _metric(after, "apiserver_terminated_watchers_total") - _metric(before, "apiserver_terminated_watchers_total")
    readers_ended = sum(int(r["ended"]) for r, _ in results)  # type: ignore[call-overload]
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    out = {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "lost_max": max(lost, default=0),
           "lost_mean": statistics.fmean(lost) if lost else 0.0, "cut": cut, "readers_ended": readers_ended,
           "cpu_ms_per_1000": cpu / max(delivered, 1) * 1e6, "delivered": delivered, "written": written,
           "create_p99_ms": statistics.quantiles(round_trips, n=100)[98] * 1000}
    print(f"  {label}: {readers} reading + {stalled} stalled watchers, {written} creates at {rate:.0f}/s: "
          f"delivery p50 {out['p50_ms']:.1f} ms, p99 {out['p99_ms']:.1f} ms; events lost per reader: max "
          f"{out['lost_max']}, mean {out['lost_mean']:.1f}; watchers cut {cut:.0f} (readers ended early: "
          f"{readers_ended}); server CPU {out['cpu_ms_per_1000']:.1f} ms per 1,000 delivered events; "
          f"create p99 {out['create_p99_ms']:.1f} ms", flush=True)
    return out


def _run(store: str, readers: int, stalled: int, rate: float, duration: float) -> None:
    with server(store) as srv:
        base = asyncio.run(_scenario(srv, "baseline", 1, 0, rate, min(duration, 10)))
        run = asyncio.run(_scenario(srv, "target", readers, stalled, rate, duration))
    ok = run["p99_ms"] <= 1000 and run["lost_max"] == 0 and run["readers_ended"] == 0
    verdict = "meets target" if ok else "MISSES target"
    print(f"watch fan-out ({store}), {readers} reading + {stalled} stalled at {rate:.0f} creates/s: "
          f"p99 {run['p99_ms']:.0f} ms, lost max {run['lost_max']}, cut {run['cut']:.0f}; "
          f"target p99 <= 1000 ms, 0 lost, no reader cut: {verdict}   "
          f"(baseline in the same run, 1 watcher: p99 {base['p99_ms']:.1f} ms, "
          f"{base['cpu_ms_per_1000']:.1f} ms CPU per 1,000 events; target run: "
          f"{run['cpu_ms_per_1000']:.1f} ms CPU per 1,000 events)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=["sqlite", "etcd"], default="sqlite")
    p.add_argument("--readers", type=int, default=400)
    p.add_argument("--stalled", type=int, default=100)
    p.add_argument("--rate", type=float, default=100, help="creates per second")
    p.add_argument("--duration", type=float, default=30, help="seconds of writes")
    p.add_argument("--quick", action="store_true", help="100 reading + 25 stalled for 10 s")
    # the client processes this script starts
    p.add_argument("--reader-client", dest="reader", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--stalled-client", dest="stalled_client", action="store_true", help=argparse.SUPPRESS)
    for name in ("--token", "--ca", "--rv", "--out"):
        p.add_argument(name, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--connections", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--grace", type=float, default=15, help=argparse.SUPPRESS)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.reader:
        asyncio.run(_reader_main(args))
        return
    if args.stalled_client:
        _stalled_main(args)
        return
    if args.quick:
        args.readers, args.stalled, args.duration = 100, 25, 10
    _run(args.store, args.readers, args.stalled, args.rate, args.duration)


if __name__ == "__main__":
    main()
