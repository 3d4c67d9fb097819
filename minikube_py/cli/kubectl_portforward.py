"""mkctl port-forward POD [LOCAL:]REMOTE...: local listeners whose connections reach the pod's ports.

Each accepted connection is one WebSocket to pods/NAME/portforward?ports=REMOTE in Kubernetes'
channel protocol (`portforward.k8s.io`, what the official Python client speaks): channel 0 carries
the bytes both ways, channel 1 an error text, and each starts with a frame holding the port
(2 bytes, little endian).  The protocol has no half-close: after the local side's EOF we keep
reading until the apiserver closes (when the pod closed its side).  Prints as kubectl does
(`Forwarding from 127.0.0.1:8080 -> 80`, `Handling connection for 8080`, `an error occurred
forwarding ...`).  Runs until interrupted.  Called by minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass

import aiohttp

from ..api.errors import from_status
from ..client import wsdial
from ..client.rest import RestClient, status_of
from .kubectl_resources import get_object, resolve_one
from .mkctl import CommandError, Context

PROTOCOL = "portforward.k8s.io"
READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class PortSpec:
    local: int  # 0: any free port
    remote: int


def parse_ports(specs: list[str]) -> list[PortSpec]:
    """kubectl's forms: `8080:80`, `80` (same local port), `:80` (a random local port)."""
    out: list[PortSpec] = []
    for spec in specs:
        local, sep, remote = spec.rpartition(":")
        if not sep:
            local = remote
        try:
            ports = PortSpec(int(local) if local else 0, int(remote))
        except ValueError:
            raise CommandError(f"invalid port specification {spec!r}: expected [LOCAL_PORT:]REMOTE_PORT") from None
        if not 0 <= ports.local < 65536 or not 0 < ports.remote < 65536:
            raise CommandError(f"invalid port specification {spec!r}: ports are 1-65535")
        out.append(ports)
    return out


class Forwarder:
    def __init__(self, client: RestClient, path: str) -> None:
        self.client = client
        self.path = path

    async def handle(self, session: aiohttp.ClientSession, ports: PortSpec, local: int,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        print(f"Handling connection for {local}", flush=True)
        url = f"{self.client.scheme}://{self.client.hostport}{self.client.url(self.path, {'ports': str(ports.remote)})}"
        ssl_ctx = self.client._context() if self.client.scheme == "https" else False  # noqa: SLF001
        try:
            ws = await wsdial.ws_connect(session, url, protocols=(PROTOCOL,), ssl=ssl_ctx, max_msg_size=0,
                                         headers=self.client._headers("*/*", None))  # noqa: SLF001
        except wsdial.UpgradeRefused as exc:
            err = from_status(status_of(exc.status, exc.body), exc.status)
            print(f"error: {err.message}", file=sys.stderr, flush=True)
            writer.close()
            return
        except (aiohttp.ClientError, OSError) as exc:
            print(f"error: unable to upgrade connection: {exc}", file=sys.stderr, flush=True)
            writer.close()
            return

        async def up() -> None:
            while data := await reader.read(READ_SIZE):
                await ws.send_bytes(b"\x00" + data)

        sender = asyncio.create_task(up())
        seen = [False, False]  # the first frame of each channel is its port number
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                channel, data = msg.data[0], bytes(msg.data[1:])
                if channel > 1:
                    continue
                if not seen[channel]:
                    seen[channel] = True
                    continue
                if channel == 0:
                    writer.write(data)
                    await writer.drain()
                elif data:
                    print(f"E an error occurred forwarding {local} -> {ports.remote}: {data.decode(errors='replace')}",
                          file=sys.stderr, flush=True)
                    break
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, aiohttp.ClientError):
                await sender
            await ws.close()
            writer.close()


async def forward(client: RestClient, path: str, specs: list[PortSpec], addresses: list[str]) -> None:
    fwd = Forwarder(client, path)
    servers: list[asyncio.Server] = []
    async with aiohttp.ClientSession(trace_configs=[wsdial.session_trace()]) as session:
        for spec in specs:
            local = spec.local
            for address in addresses:
                def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: PortSpec = spec) -> None:
                    port = int(writer.get_extra_info("sockname")[1])
                    asyncio.ensure_future(fwd.handle(session, spec, port, reader, writer))

                try:
                    server = await asyncio.start_server(serve, address, local)
                except OSError as exc:
                    raise CommandError(f"unable to listen on port {local}: {exc.strerror or exc}") from None
                servers.append(server)
                local = int(server.sockets[0].getsockname()[1])  # ":80" took a free port: the same on every address
                print(f"Forwarding from {address}:{local} -> {spec.remote}", flush=True)
        try:
            await asyncio.gather(*(s.serve_forever() for s in servers))
        finally:
            for s in servers:
                s.close()


def cmd_port_forward(ctx: Context, args: argparse.Namespace) -> int:
    if len(args.args) < 2:
        raise CommandError("TYPE/NAME and list of ports are required for port-forward")
    specs = parse_ports(args.args[1:])
    typed, sep, name = args.args[0].partition("/")
    if sep and typed not in ("pod", "pods", "po"):
        raise CommandError(f"mkctl port-forward takes a pod for now (got {typed}/{name})")
    pod = get_object(ctx, resolve_one(ctx, "pods"), ctx.namespace, name if sep else typed)
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase != "Running":
        raise CommandError(f"unable to forward port because pod is not running. Current status={phase}")
    meta = pod["metadata"]
    addresses = [a for value in args.address for a in value.split(",") if a] or ["127.0.0.1"]
    addresses = ["127.0.0.1" if a == "localhost" else a for a in addresses]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/portforward"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(forward(ctx.client, path, specs, addresses))
    return 0
