"""pods/portforward for every client, and pods/exec + pods/attach for SPDY/3.1 clients (kubectl < 1.30).

The client side is SPDY/3.1 after an HTTP upgrade (kubectl < 1.31 port-forward, < 1.30 exec and
attach), SPDY/3.1 inside a WebSocket (`SPDY/3.1+portforward.k8s.io`, kubectl >= 1.31
port-forward), or the WebSocket channel protocol of the official Python client's port-forward
(two channels per port, each opened by a frame with the port number).  The agent side is always
the contract's WebSocket (apiserver/streaming.py `dial_agent`): v5 channels for exec/attach, and
for port-forward one `portforward.minikube-py.io` WebSocket per forwarded TCP connection.

`register()` puts the handlers into streaming.SPDY_HANDLERS (make_app calls it); streaming.handle
calls them for pods/NAME/portforward and for exec/attach requests with `Upgrade: SPDY/3.1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web

from ..api import channels
from ..api import errors as E
from . import spdy, streaming

log = logging.getLogger("minikube_py.apiserver.portforward")

# exec/attach over SPDY: kubelet's remotecommand protocols, newest first
EXEC_V4, EXEC_V3, EXEC_V2, EXEC_V1 = "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"
EXEC_PROTOCOLS = (EXEC_V4, EXEC_V3, EXEC_V2, EXEC_V1)
PORTFORWARD_V1 = "portforward.k8s.io"
TUNNEL_PREFIX = "SPDY/3.1+"  # client-go's WebsocketsSPDYTunnelingPrefix
TUNNEL_PROTOCOL = TUNNEL_PREFIX + PORTFORWARD_V1
WS_PORTFORWARD_PROTOCOLS = (PORTFORWARD_V1, channels.V4)  # the Python client offers v5, v4: it gets v4
AGENT_PORTFORWARD = "portforward.minikube-py.io"
STREAM_WAIT = 30.0  # the kubelet's streamCreationTimeout
LINGER = 2.0  # after the last stream closed, how long the client has to hang up before we do


def register() -> None:
    streaming.SPDY_HANDLERS.update(exec=exec_or_attach, attach=exec_or_attach, portforward=portforward)


def _seg(value: str) -> str:
    return quote(value, safe="")


async def _ws_send(ws: aiohttp.ClientWebSocketResponse | web.WebSocketResponse, data: bytes) -> bool:
    try:
        await ws.send_bytes(data)
        return True
    except (ConnectionError, RuntimeError, aiohttp.ClientError):
        return False


async def _finish(resp: web.StreamResponse, session: spdy.Session) -> web.StreamResponse:
    """Everything queued goes out; the client hangs up (or LINGER passes); GOAWAY; the connection closes."""
    await session.flush()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(session.closed.wait(), LINGER)
    await session.close()
    return resp


# --- exec / attach over SPDY ----------------------------------------------------------------------


async def exec_or_attach(request: web.Request, namespace: str, name: str, subresource: str) -> web.StreamResponse:
    if not spdy.is_upgrade(request):
        raise E.BadRequest("Upgrade request required")
    key = f"{namespace}/{name}"
    pod = await streaming._registry(request).get(streaming.POD, namespace, name)
    container = streaming.pick_container(pod, request.query.get("container", ""))
    query = streaming.exec_query(request.query, attach=subresource == "attach")
    protocol = spdy.negotiate(spdy.offered_protocols(request), EXEC_PROTOCOLS) or EXEC_V1
    wanted = {k for k, _ in query if k in ("stdin", "stdout", "stderr", "tty")}
    path = f"/{subresource}/{_seg(namespace)}/{_seg(name)}/{_seg(container)}"
    agent = await streaming.dial_agent(request, namespace, name, path, query, (channels.V5,))
    try:
        resp, session = await spdy.accept_upgrade(request, protocol, name=f"{key} {subresource}")
        try:
            streams = await _exec_streams(session, wanted, protocol)
            if streams is not None:
                await _exec_relay(session, streams, agent, protocol, key)
            return await _finish(resp, session)
        finally:
            await session.close()
    finally:
        await agent.close()


async def _exec_streams(session: spdy.Session, wanted: set[str], protocol: str) -> dict[str, spdy.Stream] | None:
    """The client's streams by streamType: error always, stdin/stdout/stderr as asked, resize with a tty."""
    expected = {"error"} | (wanted - {"tty"})
    if "tty" in wanted and protocol in (EXEC_V4, EXEC_V3):
        expected.add("resize")
    streams: dict[str, spdy.Stream] = {}

    async def collect() -> None:
        while not expected <= streams.keys():
            stream = await session.accept()
            if stream is None:
                raise ConnectionResetError("the client went away before it opened its streams")
            kind = stream.header("streamType")
            if kind not in expected | {"resize"}:
                log.info("%s: a stream of unknown streamType %r, reset", session.name, kind)
                session.send(spdy.RstStream(stream.id, spdy.RstStatus.PROTOCOL_ERROR))
                continue
            streams[kind] = stream

    try:
        await asyncio.wait_for(collect(), STREAM_WAIT)
    except (TimeoutError, ConnectionResetError) as exc:
        log.info("%s: %s (streams %s of %s)", session.name, str(exc) or "timed out waiting for the client's streams",
                 sorted(streams), sorted(expected))
        return None
    return streams


async def _exec_relay(session: spdy.Session, streams: dict[str, spdy.Stream], agent: aiohttp.ClientWebSocketResponse,
                      protocol: str, key: str) -> None:
    async def stdin(stream: spdy.Stream) -> None:
        while chunk := await stream.read():
            if not await _ws_send(agent, bytes([channels.STDIN]) + chunk):
                return
        if not stream.reset:
            await _ws_send(agent, bytes([channels.CLOSE, channels.STDIN]))

    async def resize(stream: spdy.Stream) -> None:
        pending = b""
        while chunk := await stream.read():  # json.Encoder output: one JSON object per line
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip() and not await _ws_send(agent, bytes([channels.RESIZE]) + line.strip()):
                    return

    async def client_gone() -> None:
        await session.closed.wait()

    error = b""

    async def down() -> None:
        nonlocal error
        async for msg in agent:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], bytes(msg.data[1:])
            target = {channels.STDOUT: streams.get("stdout"), channels.STDERR: streams.get("stderr")}.get(channel)
            if target is not None:
                await target.write(data)
            elif channel == channels.ERROR:
                error += data

    tasks = [asyncio.create_task(down(), name=f"spdy-exec-down {key}"),
             asyncio.create_task(client_gone(), name=f"spdy-exec-gone {key}")]
    helpers = [asyncio.create_task(stdin(streams["stdin"]), name=f"spdy-exec-stdin {key}")] if "stdin" in streams \
        else []
    if "resize" in streams:
        helpers.append(asyncio.create_task(resize(streams["resize"]), name=f"spdy-exec-resize {key}"))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks + helpers:
            t.cancel()
        for t in tasks + helpers:
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError, RuntimeError):
                await t
    if session.closed.is_set():
        return
    for kind in ("stdout", "stderr"):
        if kind in streams:
            streams[kind].close()
    await streams["error"].write(_error_payload(error, protocol))
    streams["error"].close()


def _error_payload(status: bytes, protocol: str) -> bytes:
    """The error stream's content: v4 carries the Status as JSON; older ones a text message, only on failure."""
    if protocol == EXEC_V4 or not status:
        return status
    try:
        parsed = orjson.loads(status)
    except orjson.JSONDecodeError:
        return status
    if parsed.get("status") == "Success":
        return b""
    return str(parsed.get("message") or "command terminated with an error").encode()


# --- port-forward ---------------------------------------------------------------------------------


async def portforward(request: web.Request, namespace: str, name: str, _: str) -> web.StreamResponse:
    pod = await streaming._registry(request).get(streaming.POD, namespace, name)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise E.BadRequest(f"pod {name} does not have a host assigned")
    forward = _Forwarder(request, namespace, name, str(pod["metadata"].get("uid", "")))
    if spdy.is_upgrade(request):
        protocol = spdy.negotiate(spdy.offered_protocols(request), (PORTFORWARD_V1,)) or PORTFORWARD_V1
        resp, session = await spdy.accept_upgrade(request, protocol, name=f"{forward.key} portforward")
        try:
            await forward.spdy_pairs(session)
            return await _finish(resp, session)
        finally:
            await session.close()
            await forward.stop()
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise E.BadRequest("Upgrade request required")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if TUNNEL_PROTOCOL in offered:
        return await _tunnel(request, forward)
    return await forward.websocket_channels(request, offered)


async def _tunnel(request: web.Request, forward: _Forwarder) -> web.WebSocketResponse:
    """kubectl >= 1.31: SPDY/3.1 inside the WebSocket, every binary message a piece of the byte stream."""
    ws = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), max_msg_size=streaming.MAX_MESSAGE, autoping=True)
    await ws.prepare(request)
    session = spdy.Session(ws.send_bytes, name=f"{forward.key} portforward (tunnel)")
    pairs = asyncio.create_task(forward.spdy_pairs(session), name=f"portforward-pairs {forward.key}")
    try:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                session.feed(msg.data)
                await session.room()
            elif msg.type == aiohttp.WSMsgType.TEXT:
                log.info("%s: a text message in the SPDY tunnel, closing", forward.key)
                break
    finally:
        session.eof()
        await pairs
        await forward.stop()
        await session.close()
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
    return ws


class _Forwarder:
    """The forwarded connections of one port-forward request, each one WebSocket to the agent."""

    def __init__(self, request: web.Request, namespace: str, name: str, uid: str) -> None:
        self.request, self.namespace, self.name, self.uid = request, namespace, name, uid
        self.key = f"{namespace}/{name}"
        self.tasks: set[asyncio.Task[None]] = set()

    def _start(self, coro: Any, what: str) -> None:
        task = asyncio.create_task(coro, name=f"portforward {self.key} {what}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def error_text(self, port: int | str, message: str) -> str:
        """As the kubelet's streaming server words it (kubectl prints it after `an error occurred forwarding`)."""
        return f"error forwarding port {port} to pod {self.uid}, uid : {message}"

    async def dial(self, port: int) -> aiohttp.ClientWebSocketResponse:
        return await streaming.dial_agent(self.request, self.namespace, self.name,
                                          f"/portForward/{_seg(self.namespace)}/{_seg(self.name)}",
                                          [("port", str(port))], (AGENT_PORTFORWARD,))

    # --- SPDY: a data and an error stream per connection, paired by requestID -----------------

    async def spdy_pairs(self, session: spdy.Session) -> None:
        pending: dict[str, dict[str, spdy.Stream]] = {}
        while (stream := await session.accept()) is not None:
            kind = stream.header("streamType")
            if kind not in ("data", "error"):
                log.info("%s: a stream of streamType %r, reset", self.key, kind)
                session.send(spdy.RstStream(stream.id, spdy.RstStatus.PROTOCOL_ERROR))
                continue
            request_id = stream.header("requestID") or stream.header("port")
            pair = pending.setdefault(request_id, {})
            pair[kind] = stream
            if len(pair) == 2:
                del pending[request_id]
                self._start(self._spdy_pair(pair["data"], pair["error"]), f"request {request_id}")

    async def _spdy_pair(self, data: spdy.Stream, error: spdy.Stream) -> None:
        raw_port = data.header("port")
        try:
            port = int(raw_port)
            if not 0 < port < 65536:
                raise ValueError(raw_port)
        except ValueError:
            await error.write(f'invalid port "{raw_port}"'.encode())
            error.close()
            data.close()
            return
        try:
            agent = await self.dial(port)
        except E.ApiError as exc:
            await error.write(self.error_text(port, exc.message).encode())
            error.close()
            data.close()
            return
        try:
            failure = await _pump(agent, data.read, data.write, f"{self.key}:{port}")
            if failure:
                await error.write(self.error_text(port, failure).encode())
        finally:
            await agent.close()
            data.close()
            error.close()

    # --- WebSocket channels (the Python client): 2 channels per port, one connection per port --

    async def websocket_channels(self, request: web.Request, offered: list[str]) -> web.WebSocketResponse:
        ports: list[int] = []
        for value in request.query.getall("ports", []):
            for raw in value.split(","):
                try:
                    port = int(raw)
                    if not 0 < port < 65536:
                        raise ValueError(raw)
                except ValueError:
                    raise E.BadRequest(f'ports: Invalid value: "{raw}": port number must be in the range 1 to '
                                       "65535") from None
                ports.append(port)
        if not ports:
            raise E.BadRequest("query parameter \"port\" is required")
        protocol = next((p for p in WS_PORTFORWARD_PROTOCOLS if p in offered), None)
        if offered and protocol is None:
            raise E.BadRequest(f"unable to upgrade connection: none of the subprotocols {offered} is supported; "
                               f"this server speaks {', '.join(WS_PORTFORWARD_PROTOCOLS)}")
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=streaming.MAX_MESSAGE,
                                   autoping=True)
        await ws.prepare(request)
        inboxes: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
        for i, port in enumerate(ports):
            tag = port.to_bytes(2, "little")
            await ws.send_bytes(bytes([2 * i]) + tag)
            await ws.send_bytes(bytes([2 * i + 1]) + tag)
        forwards = [asyncio.create_task(self._ws_port(ws, i, port, inboxes[i]), name=f"portforward {self.key}:{port}")
                    for i, port in enumerate(ports)]

        async def close_when_done() -> None:  # this protocol has no half-close: the WebSocket ends with the last port
            await asyncio.gather(*forwards, return_exceptions=True)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()

        self._start(close_when_done(), "close")
        self.tasks.update(forwards)
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY and msg.data:
                    index, rest = divmod(msg.data[0], 2)
                    if rest == 0 and index < len(ports):
                        inboxes[index].put_nowait(bytes(msg.data[1:]))
        finally:
            for inbox in inboxes:
                inbox.put_nowait(None)
            await self.stop()
        return ws

    async def _ws_port(self, ws: web.WebSocketResponse, i: int, port: int, inbox: asyncio.Queue[bytes | None]) -> None:
        async def read() -> bytes:
            return await inbox.get() or b""

        async def write(data: bytes) -> None:
            await _ws_send(ws, bytes([2 * i]) + data)

        try:
            agent = await self.dial(port)
        except E.ApiError as exc:
            await _ws_send(ws, bytes([2 * i + 1]) + self.error_text(port, exc.message).encode())
            return
        try:
            failure = await _pump(agent, read, write, f"{self.key}:{port}")
            if failure:
                await _ws_send(ws, bytes([2 * i + 1]) + self.error_text(port, failure).encode())
        finally:
            await agent.close()


async def _pump(agent: aiohttp.ClientWebSocketResponse, read: Any, write: Any, key: str) -> str:
    """One forwarded connection both ways; returns the agent's error ("" if none).  The client's EOF is
    a half-close towards the pod ({"eof": true}); when the pod closes its side the forward ends, as
    the kubelet's runtimes end it (kubectl waits for both streams' EOF before it closes its socket)."""

    async def up() -> None:
        while chunk := await read():
            if not await _ws_send(agent, chunk):
                return
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await agent.send_str('{"eof": true}')

    failure = ""
    sender = asyncio.create_task(up(), name=f"portforward-up {key}")
    try:
        async for msg in agent:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await write(bytes(msg.data))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    note = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    continue
                if note.get("eof"):
                    break
                if note.get("error"):
                    failure = str(note["error"])
                    break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError, aiohttp.ClientError):
            await sender
    return failure
