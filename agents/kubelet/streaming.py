"""The agent's streaming server: the kubelet's HTTPS port (10250) for logs, exec, attach and port-forward.

Only the apiserver passes its gate (streamgate.py: TLS, the kube-apiserver-kubelet-client
certificate of the cluster CA); log lines are containerlogs.py's.  Routes are the kubelet's: `/containerLogs/{ns}/{pod}/{container}` (text, streamed), `/exec/...` and
`/attach/...` (WebSocket v5/v4 channel protocol, minikube_py/api/channels.py) and `/portForward/{ns}/{pod}`
(WebSocket `portforward.minikube-py.io`: binary frames are the bytes, text `{"eof": true}` a
half-close, text `{"error": ...}` then a close when the pod's port fails).  Docker calls run in the
runtime's thread pool; the hijacked exec/attach sockets are driven non-blocking by the event loop.
The pods come from the pod workers' informer, the containers from a Docker list by our labels.
Started by agents/node.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import docker
from aiohttp import WSMsgType, web

from minikube_py.api import channels
from minikube_py.api import errors as E

from .containerlogs import LogOptions, docker_log_lines, format_line
from .runtime import CONTAINER_NAME, OWNER_LABEL, POD_UID, RESTART_COUNT, DockerRuntime
from .streamgate import PortUnavailable, guard

log = logging.getLogger("minikube_py.agent.streaming")
Obj = dict[str, Any]
PORTFORWARD_PROTOCOL = "portforward.minikube-py.io"
MAX_MESSAGE = 32 * 1024 * 1024
READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a container, as Docker lists it (the kubelet's restart count in our label)."""
    id: str
    restart_count: int
    running: bool


def demux(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete frames of Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, size) taken
    out of `buffer`; what is left is an incomplete frame."""
    out = []
    while len(buffer) >= 8:
        size = struct.unpack(">I", bytes(buffer[4:8]))[0]
        if len(buffer) < 8 + size:
            break
        out.append((buffer[0], bytes(buffer[8:8 + size])))
        del buffer[:8 + size]
    return out


# --- the server ----------------------------------------------------------------------------------


class StreamingServer:
    def __init__(self, runtime: DockerRuntime, pods: Callable[[str], Obj | None], *, address: str, port: int,
                 ssl_context: ssl.SSLContext, now: Callable[[], float]) -> None:
        self.runtime = runtime
        self.pods = pods  # "ns/name" -> the pod from the workers' informer
        self.address = address
        self.port = port
        self.ssl_context = ssl_context
        self.now = now
        self.app = web.Application(middlewares=[guard])
        r = self.app.router
        r.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        r.add_get("/exec/{namespace}/{pod}/{container}", self.exec)
        r.add_post("/exec/{namespace}/{pod}/{container}", self.exec)
        r.add_get("/attach/{namespace}/{pod}/{container}", self.attach)
        r.add_post("/attach/{namespace}/{pod}/{container}", self.attach)
        r.add_get("/portForward/{namespace}/{pod}", self.port_forward)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address, self.port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            why = "the address is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise PortUnavailable(f"cannot listen on {self.address}:{self.port} for logs/exec/attach: {why}; stop "
                                  "the other process or pass --streaming-port") from None
        log.info("streaming server on https://%s:%d (logs, exec, attach, portForward)", self.address, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- finding things ------------------------------------------------------------------------

    def _pod(self, request: web.Request) -> Obj:
        ns, name = request.match_info["namespace"], request.match_info["pod"]
        pod = self.pods(f"{ns}/{name}")
        if pod is None:
            raise E.NotFound(f'pods "{name}" not found')
        return pod

    async def _attempts(self, pod: Obj, container: str) -> list[Attempt]:
        """The container's attempts (oldest first) from one Docker list call by our labels."""
        name = str(pod["metadata"]["name"])
        names = [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
                 for c in (pod.get("spec") or {}).get(key) or []]
        if container not in names:
            raise E.BadRequest(f"container {container} is not valid for pod {name}")
        labels = [f"{OWNER_LABEL}={self.runtime.owner}", f"{POD_UID}={pod['metadata']['uid']}",
                  f"{CONTAINER_NAME}={container}"]
        found = await self.runtime.call(lambda: self.runtime.client.api.containers(all=True,
                                                                                   filters={"label": labels}))
        attempts = [Attempt(str(c["Id"]), int((c.get("Labels") or {}).get(RESTART_COUNT, "0") or 0),
                            c.get("State") in ("running", "paused", "restarting")) for c in found]
        return sorted(attempts, key=lambda a: a.restart_count)

    @staticmethod
    def _waiting(pod: Obj, container: str) -> str:
        for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            for st in (pod.get("status") or {}).get(key) or []:
                if st.get("name") == container:
                    waiting = (st.get("state") or {}).get("waiting")
                    if waiting:
                        reason = waiting.get("reason") or ""
                        return {"ErrImagePull": "image can't be pulled",
                                "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
        return "ContainerCreating"

    async def _running(self, request: web.Request) -> tuple[Obj, str, Attempt]:
        pod = self._pod(request)
        container = request.match_info["container"]
        attempts = await self._attempts(pod, container)
        if not attempts or not attempts[-1].running:
            raise E.BadRequest(f'container not found ("{container}")')
        return pod, container, attempts[-1]

    # --- logs -----------------------------------------------------------------------------------

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        container, name = request.match_info["container"], str(pod["metadata"]["name"])
        opts = LogOptions(request.query, self.now())
        attempts = await self._attempts(pod, container)
        if opts.previous:
            if len(attempts) < 2:
                raise E.BadRequest(f'previous terminated container "{container}" in pod "{name}" not found')
            target = attempts[-2]
        elif attempts:
            target = attempts[-1]
        else:
            raise E.BadRequest(f'container "{container}" in pod "{name}" is waiting to start: '
                              f"{self._waiting(pod, container)}")
        follow = opts.follow and not opts.previous
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        left = opts.limit
        try:
            key = f"{pod['metadata']['namespace']}/{name}"
            lines = docker_log_lines(self.runtime.client.api, key, target.id, follow, opts.tail,
                                     lambda: _gone(request))
            async for line in lines:
                out = format_line(line, opts.timestamps, opts.since)
                if out is None:
                    continue
                if left is not None:
                    out = out[:left]
                    left -= len(out)
                await resp.write(out)
                if left is not None and left <= 0:
                    break
            await resp.write_eof()
        except ConnectionError:  # the apiserver hung up (its client left)
            pass
        return resp

    # --- exec and attach --------------------------------------------------------------------------

    @staticmethod
    def _flags(request: web.Request) -> dict[str, bool]:
        return {k: (request.query.get(k) or "").lower() in ("1", "true", "yes", "t")
                for k in ("stdin", "stdout", "stderr", "tty")}

    def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=channels.AGENT_PROTOCOLS, max_msg_size=MAX_MESSAGE, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise E.BadRequest("Upgrade request required")
        return ws

    async def exec(self, request: web.Request) -> web.StreamResponse:
        pod, container, target = await self._running(request)
        command = request.query.getall("command", [])
        if not command:
            raise E.BadRequest("you must specify at least one command for the container")
        flags = self._flags(request)
        ws = self._websocket(request)
        api = self.runtime.client.api
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        try:
            exec_id = (await self.runtime.call(lambda: api.exec_create(
                target.id, command, stdout=flags["stdout"], stderr=flags["stderr"], stdin=flags["stdin"],
                tty=flags["tty"])))["Id"]
            sock = await self.runtime.call(lambda: _raw_socket(api.exec_start(exec_id, socket=True,
                                                                              tty=flags["tty"])))
        except docker.errors.APIError as exc:  # the container stopped meanwhile, or the command is not there
            raise E.BadRequest(f"error executing command in container: {exc.explanation or exc}") from None
        await ws.prepare(request)
        log.info("%s: exec %s in %s", key, command, container)

        async def resize(width: int, height: int) -> None:
            await self.runtime.call(lambda: api.exec_resize(exec_id, height=height, width=width))

        async def outcome() -> Obj:
            for _ in range(250):  # Docker may still say Running for a moment after the stream ended
                info = await self.runtime.call(lambda: api.exec_inspect(exec_id))
                if not info.get("Running") and info.get("ExitCode") is not None:
                    return channels.exit_status(int(info["ExitCode"]))
                await asyncio.sleep(0.01)
            return channels.failure_status("the command's exit code is unknown")

        await _pump(ws, sock, flags, resize, outcome, key)
        return ws

    async def attach(self, request: web.Request) -> web.StreamResponse:
        pod, container, target = await self._running(request)
        flags = self._flags(request)
        ws = self._websocket(request)
        api = self.runtime.client.api
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        try:
            info = await self.runtime.call(lambda: api.inspect_container(target.id))
        except docker.errors.NotFound:
            raise E.BadRequest(f'container not found ("{container}")') from None
        tty = bool((info.get("Config") or {}).get("Tty"))
        if flags["stdin"] and not (info.get("Config") or {}).get("OpenStdin"):
            flags["stdin"] = False  # kubelet: a container without stdin: true has no stdin to attach to
        params = {"stdin": int(flags["stdin"]), "stdout": int(flags["stdout"]), "stderr": int(flags["stderr"]),
                  "stream": 1}
        try:
            sock = await self.runtime.call(lambda: _raw_socket(api.attach_socket(target.id, params=params)))
        except docker.errors.APIError as exc:
            raise E.BadRequest(f"error attaching to container: {exc.explanation or exc}") from None
        flags["tty"] = tty
        await ws.prepare(request)
        log.info("%s: attach to %s", key, container)

        async def resize(width: int, height: int) -> None:
            await self.runtime.call(lambda: api.resize(target.id, height=height, width=width))

        async def outcome() -> Obj:
            return channels.success_status()

        await _pump(ws, sock, flags, resize, outcome, key)
        return ws

    # --- port-forward -------------------------------------------------------------------------------

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        try:
            port = int(request.query.get("port", ""))
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise E.BadRequest(f'invalid port "{request.query.get("port", "")}"') from None
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        ip = "127.0.0.1" if host_network else str((pod.get("status") or {}).get("podIP") or "")
        if not ip:
            raise E.BadRequest(f'pod {pod["metadata"]["name"]} has no IP address yet')
        ws = web.WebSocketResponse(protocols=(PORTFORWARD_PROTOCOL,), max_msg_size=MAX_MESSAGE, autoping=True)
        if not ws.can_prepare(request).ok:
            raise E.BadRequest("Upgrade request required")
        await ws.prepare(request)
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 10.0)
        except (OSError, TimeoutError) as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (
                getattr(exc, "strerror", None) or "i/o timeout")
            await ws.send_str(json.dumps({"error": f"dial tcp {ip}:{port}: connect: {reason}"}))
            await ws.close()
            return ws

        async def down() -> None:
            while data := await reader.read(READ_SIZE):
                await ws.send_bytes(data)
            await ws.send_str(json.dumps({"eof": True}))

        async def up() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    writer.write(msg.data)
                    await writer.drain()
                elif msg.type == WSMsgType.TEXT and (json.loads(msg.data) or {}).get("eof"):
                    if writer.can_write_eof():
                        writer.write_eof()

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if tasks[0] in done and tasks[0].exception() is None:
                # the pod finished sending (its half-close went out): the client's side may go on
                done, _ = await asyncio.wait(tasks)
            for t in done:  # the client closing the WebSocket ends both directions
                if t.exception() is not None and not ws.closed:
                    await ws.send_str(json.dumps({"error": f"{key}: port {port}: {t.exception()}"}))
        finally:
            for t in tasks:
                t.cancel()
            writer.close()
            if not ws.closed:
                await ws.close()
        return ws


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _raw_socket(hijacked: Any) -> socket.socket:
    """Docker's hijacked connection as a plain non-blocking socket of our own (a dup, so the SDK's
    response object may go away)."""
    raw = getattr(hijacked, "_sock", hijacked)
    own = raw.dup()
    with contextlib.suppress(Exception):
        hijacked.close()
    own.setblocking(False)
    return own


async def _pump(ws: web.WebSocketResponse, sock: socket.socket, flags: dict[str, bool],
                resize: Callable[[int, int], Awaitable[None]], outcome: Callable[[], Awaitable[Obj]],
                key: str) -> None:
    """WebSocket channel frames <-> Docker's hijacked stream, then the error-channel Status and a close."""
    loop = asyncio.get_running_loop()
    protocol = ws.ws_protocol or channels.V4
    tty = flags["tty"]

    async def output() -> None:
        buffer = bytearray()
        while True:
            data = await loop.sock_recv(sock, READ_SIZE)
            if not data:
                return
            if tty:
                await ws.send_bytes(bytes([channels.STDOUT]) + data)
                continue
            buffer += data
            for stream, payload in demux(buffer):
                channel = channels.STDERR if stream == 2 else channels.STDOUT
                await ws.send_bytes(bytes([channel]) + payload)

    async def input() -> None:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            try:
                frame = channels.decode(msg.data, protocol)
            except channels.FrameError:
                continue
            if frame.channel == channels.STDIN and flags["stdin"]:
                await loop.sock_sendall(sock, frame.data)
            elif frame.channel == channels.RESIZE:
                size = channels.parse_resize(frame.data)
                if size is not None:
                    try:
                        await resize(*size)
                    except docker.errors.APIError as exc:  # the process may be gone already
                        log.info("%s: resize to %dx%d failed: %s", key, size[0], size[1], exc)
            elif frame.channel == channels.CLOSE and frame.data[:1] == bytes([channels.STDIN]):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
        # the client went away: nothing more to read or write

    out_task = asyncio.create_task(output(), name=f"exec-out {key}")
    in_task = asyncio.create_task(input(), name=f"exec-in {key}")
    try:
        done, _ = await asyncio.wait([out_task, in_task], return_when=asyncio.FIRST_COMPLETED)
        if out_task in done:
            error = out_task.exception()
            status = channels.failure_status(f"{key}: {error}") if error is not None else await outcome()
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_bytes(bytes([channels.ERROR]) + json.dumps(status).encode())
    finally:
        for t in (out_task, in_task):
            t.cancel()
        for t in (out_task, in_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        sock.close()
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
