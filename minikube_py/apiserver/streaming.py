"""pods/log, pods/exec and pods/attach: the apiserver validates, dials the pod's node agent and relays.

Clients speak many protocols (WebSocket v5/v4/base64 here; SPDY/3.1 and port-forward in the
handlers that wt-spdy registers in SPDY_HANDLERS); the agent speaks one: WebSocket
`v5/v4.channel.k8s.io` on its HTTPS port (agents/kubelet/streaming.py), and plain HTTP for logs.
The apiserver shows it the kubelet-client certificate (apiserver/auth.py mints it) and, as
kube-apiserver without --kubelet-certificate-authority, does not verify the agent's certificate.
`dial_agent` / `agent_get` are the one way to the agent.  Called by resources.py for the pod
subresources log/exec/attach/portforward.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web

from ..api import channels
from ..api import errors as E
from ..api.kinds import require
from ..client import wsdial
from .registry import Obj, Registry

log = logging.getLogger("minikube_py.apiserver.streaming")

POD = require("v1", "Pod")
NODE = require("v1", "Node")
MAX_MESSAGE = 32 * 1024 * 1024
DIAL_TIMEOUT = 10.0
CLIENT_CHECK = 5.0  # how often a quiet log stream checks that its client is still there
KUBELET_CLIENT_KEY: web.AppKey[ssl.SSLContext | None] = web.AppKey("kubelet_client", ssl.SSLContext)
_SESSION_KEY: web.AppKey[list[aiohttp.ClientSession]] = web.AppKey("agent_session", list)

# The seam for the SPDY/3.1 side (wt-spdy): subresource ("exec", "attach", "portforward") -> handler.
# exec/attach call it for a request with `Upgrade: SPDY/3.1`; portforward always (its WebSocket
# form tunnels SPDY too).  The handler may use dial_agent, pick_container and exec_query below.
SpdyHandler = Callable[[web.Request, str, str, str], Awaitable[web.StreamResponse]]
SPDY_HANDLERS: dict[str, SpdyHandler] = {}


def kubelet_client_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS to the agents: our client certificate, their serving certificate not verified."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    return ctx


def install(app: web.Application, kubelet_client: ssl.SSLContext | None) -> None:
    """make_app calls this: the client context and one HTTP session to the agents, closed at cleanup."""
    app[KUBELET_CLIENT_KEY] = kubelet_client
    app[_SESSION_KEY] = []

    async def close(_: web.Application) -> None:
        for session in app[_SESSION_KEY]:
            await session.close()

    app.on_cleanup.append(close)


def _session(app: web.Application) -> aiohttp.ClientSession:
    sessions = app[_SESSION_KEY]
    if not sessions or sessions[0].closed:
        sessions[:] = [aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT),
                                             auto_decompress=False, trace_configs=[wsdial.session_trace()])]
    return sessions[0]


def _registry(request: web.Request) -> Registry:
    from .resources import REGISTRY_KEY

    return request.app[REGISTRY_KEY]


async def _agent_address(request: web.Request, namespace: str, pod_name: str) -> tuple[Obj, str]:
    """The pod and `host:port` of its node's streaming server."""
    registry = _registry(request)
    pod = await registry.get(POD, namespace, pod_name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise E.BadRequest(f"pod {pod_name} does not have a host assigned")
    try:
        node = await registry.get(NODE, None, str(node_name))
    except E.NotFound:
        raise E.InternalError(f'error dialing backend: node "{node_name}" not found') from None
    status = node.get("status") or {}
    address = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    address = address or next((a.get("address") for a in status.get("addresses") or []), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not address or not port:
        raise E.InternalError(f"error dialing backend: node {node_name} has no address or kubelet port in its status")
    host = f"[{address}]" if ":" in str(address) else str(address)
    return pod, f"{host}:{int(port)}"


def _ssl(request: web.Request) -> ssl.SSLContext:
    ctx = request.app.get(KUBELET_CLIENT_KEY)
    if ctx is None:
        raise E.ServiceUnavailable("this apiserver has no kubelet client certificate: it cannot reach node agents")
    return ctx


async def _agent_error(resp: aiohttp.ClientResponse) -> E.ApiError:
    return _error_of(resp.status, await resp.read())


def _error_of(status: int, raw: bytes) -> E.ApiError:
    """The agent's answer as the error it names (its Status, else its text)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if status == 401:  # the agent does not know our certificate: not the client's credentials at fault
        message = body.get("message") if isinstance(body, dict) else raw.decode("utf-8", "replace")
        return E.InternalError(f"error dialing backend: the node agent refused the apiserver's kubelet-client "
                               f"certificate ({message}); is it another cluster's agent?")
    if isinstance(body, dict) and body.get("kind") == "Status":
        return E.from_status(body, status)
    text = raw.decode("utf-8", "replace").strip() or f"error dialing backend: the node agent answered {status}"
    return E.from_status({"message": text}, status)


async def agent_get(request: web.Request, namespace: str, pod: str, path: str,
                    query: list[tuple[str, str]]) -> aiohttp.ClientResponse:
    """A plain GET on the pod's agent (path such as `/containerLogs/ns/pod/c`); the caller reads and
    releases the response.  An agent's error Status is raised as that error."""
    _, address = await _agent_address(request, namespace, pod)
    url = f"https://{address}{path}"
    try:
        resp = await _session(request.app).get(url, params=query, ssl=_ssl(request))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise E.InternalError(f'Get "{url}": {_dial_text(exc)}') from None
    if resp.status != 200:
        try:
            raise await _agent_error(resp)
        finally:
            resp.release()
    return resp


def _dial_text(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"dial tcp {exc.host}:{exc.port}: connect: {exc.os_error.strerror or exc.os_error}"
    return f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)


async def dial_agent(request: web.Request, namespace: str, pod: str, path: str, query: list[tuple[str, str]],
                     protocols: tuple[str, ...]) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket to the pod's agent (path such as `/exec/ns/pod/c` or `/portForward/ns/pod`).  An
    agent that refuses the upgrade says why in its answer's Status, which is raised."""
    _, address = await _agent_address(request, namespace, pod)
    url = f"https://{address}{path}"
    try:
        return await wsdial.ws_connect(_session(request.app), url, params=query, protocols=protocols,
                                       ssl=_ssl(request), autoping=True, max_msg_size=MAX_MESSAGE,
                                       timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
    except wsdial.UpgradeRefused as exc:
        raise _error_of(exc.status, exc.body) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise E.InternalError(f"error dialing backend: {_dial_text(exc)}") from None


# --- validation (kube's pod strategy: LogLocation, ExecLocation, AttachLocation) -------------------


def _names(pod: Obj, field: str) -> list[str]:
    return [str(c.get("name")) for c in (pod.get("spec") or {}).get(field) or []]


def pick_container(pod: Obj, wanted: str) -> str:
    """The container a log/exec/attach request means, or kube-apiserver's 400."""
    name = str(pod["metadata"]["name"])
    regular, init, ephemeral = (_names(pod, "containers"), _names(pod, "initContainers"),
                                _names(pod, "ephemeralContainers"))
    if not wanted:
        if len(regular) == 1:
            return regular[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(regular)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise E.BadRequest(message)
    if wanted not in regular + init + ephemeral:
        raise E.BadRequest(f"container {wanted} is not valid for pod {name}")
    return wanted


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "t")


def _int_param(q: Any, key: str) -> int | None:
    raw = q.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise E.BadRequest(f'{key}: Invalid value: "{raw}": strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def log_query(q: Any, pod_name: str) -> list[tuple[str, str]]:
    """PodLogOptions from the query, checked as kube's ValidatePodLogOptions, as the agent's query."""
    errors: list[E.FieldError] = []
    out: list[tuple[str, str]] = []
    for key in ("follow", "previous", "timestamps"):
        if _bool(q.get(key)):
            out.append((key, "true"))
    tail, limit, since = _int_param(q, "tailLines"), _int_param(q, "limitBytes"), _int_param(q, "sinceSeconds")
    if tail is not None:
        if tail < 0:
            errors.append(E.FieldError.invalid("tailLines", tail, "must be greater than or equal to 0"))
        out.append(("tailLines", str(tail)))
    if limit is not None:
        if limit < 1:
            errors.append(E.FieldError.invalid("limitBytes", limit, "must be greater than 0"))
        out.append(("limitBytes", str(limit)))
    since_time = q.get("sinceTime")
    if since is not None:
        if since < 1:
            errors.append(E.FieldError.invalid("sinceSeconds", since, "must be greater than 0"))
        if since_time:
            errors.append(E.FieldError.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        out.append(("sinceSeconds", str(since)))
    if since_time:
        from ..api.times import parse_time

        if parse_time(since_time) is None:
            raise E.BadRequest(f'sinceTime: Invalid value: "{since_time}": not an RFC 3339 time')
        out.append(("sinceTime", since_time))
    if errors:
        raise E.Invalid.of("PodLogOptions", "", pod_name, errors)
    return out


def exec_query(q: Any, *, attach: bool) -> list[tuple[str, str]]:
    """PodExecOptions / PodAttachOptions as the agent's query (command=..., stdin=1, ...)."""
    out: list[tuple[str, str]] = []
    if not attach:
        commands = q.getall("command", [])
        if not commands:
            raise E.BadRequest("you must specify at least one command for the container")
        out.extend(("command", c) for c in commands)
    flags = {k: _bool(q.get(k)) for k in ("stdin", "stdout", "stderr", "tty")}
    if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
        raise E.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    if flags["tty"]:
        flags["stderr"] = False  # a terminal has one output stream
    out.extend((k, "1") for k, on in flags.items() if on)
    return out


# --- handlers -----------------------------------------------------------------------------------


async def handle(request: web.Request, namespace: str, name: str, subresource: str) -> web.StreamResponse:
    """The entry from resources.py for pods/NAME/{log,exec,attach,portforward}."""
    upgrade = request.headers.get("Upgrade", "").lower()
    if subresource == "log":
        if request.method != "GET":
            raise E.MethodNotAllowed("the server does not allow this method on the requested resource")
        return await logs(request, namespace, name)
    if request.method not in ("GET", "POST"):
        raise E.MethodNotAllowed("the server does not allow this method on the requested resource")
    spdy = SPDY_HANDLERS.get(subresource)
    if subresource == "portforward" or upgrade.startswith("spdy/"):
        if spdy is None:
            raise E.BadRequest(f"unable to upgrade connection: this apiserver does not speak {upgrade or 'SPDY'} "
                               f"for pods/{subresource} yet")
        return await spdy(request, namespace, name, subresource)
    if upgrade != "websocket":
        raise E.BadRequest("Upgrade request required")
    return await exec_or_attach(request, namespace, name, subresource)


async def logs(request: web.Request, namespace: str, name: str) -> web.StreamResponse:
    pod = await _registry(request).get(POD, namespace, name)
    container = pick_container(pod, request.query.get("container", ""))
    query = log_query(request.query, name)
    upstream = await agent_get(request, namespace, name, f"/containerLogs/{_seg(namespace)}/{_seg(name)}/"
                               f"{_seg(container)}", query)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Cache-Control": "no-cache, private"})
        await resp.prepare(request)
        while True:
            try:
                chunk = await asyncio.wait_for(upstream.content.readany(), CLIENT_CHECK)
            except TimeoutError:
                if client_gone(request):  # a quiet followed log: the client may have left meanwhile
                    return resp
                continue
            if not chunk:
                break
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    except ConnectionError:  # the client left (kubectl logs -f ended with ^C)
        return resp
    finally:
        upstream.release()


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _seg(value: str) -> str:
    return quote(value, safe="")


def _negotiate(request: web.Request) -> str:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    for protocol in channels.CLIENT_PROTOCOLS:
        if protocol in offered:
            return protocol
    if offered:
        raise E.BadRequest(f"unable to upgrade connection: none of the subprotocols {offered} is supported; this "
                           f"server speaks {', '.join(channels.CLIENT_PROTOCOLS)}")
    return channels.V1  # no subprotocol: kube's default channel protocol


async def exec_or_attach(request: web.Request, namespace: str, name: str, subresource: str) -> web.StreamResponse:
    pod = await _registry(request).get(POD, namespace, name)
    container = pick_container(pod, request.query.get("container", ""))
    query = exec_query(request.query, attach=subresource == "attach")
    client_protocol = _negotiate(request)
    agent_protocol = channels.agent_protocol(client_protocol)
    path = f"/{subresource}/{_seg(namespace)}/{_seg(name)}/{_seg(container)}"
    upstream = await dial_agent(request, namespace, name, path, query, (agent_protocol,))
    try:
        offered = bool(request.headers.get("Sec-WebSocket-Protocol"))  # none offered: none answered
        ws = web.WebSocketResponse(protocols=(client_protocol,) if offered else (), max_msg_size=MAX_MESSAGE,
                                   autoping=True)
        await ws.prepare(request)
        await relay(ws, client_protocol, upstream, agent_protocol, f"{namespace}/{name}")
        return ws
    finally:
        await upstream.close()


async def relay(client: web.WebSocketResponse, client_protocol: str, agent: aiohttp.ClientWebSocketResponse,
                agent_protocol: str, key: str) -> None:
    """Frames both ways, translated between the two protocols, until the agent closes (after its
    error-channel Status) or the client goes away."""

    async def send(ws: Any, payload: bytes | str) -> None:
        if isinstance(payload, str):
            await ws.send_str(payload)
        else:
            await ws.send_bytes(payload)

    async def pump(source: Any, source_protocol: str, target: Any, target_protocol: str) -> None:
        async for msg in source:
            if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                continue
            try:
                out = channels.translate(msg.data, source_protocol, target_protocol)
            except channels.FrameError as exc:
                log.info("%s: dropped a frame: %s", key, exc)
                continue
            if out is not None:
                await send(target, out)

    up = asyncio.create_task(pump(client, client_protocol, agent, agent_protocol), name=f"relay-up {key}")
    down = asyncio.create_task(pump(agent, agent_protocol, client, client_protocol), name=f"relay-down {key}")
    try:
        done, _ = await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        if down in done:  # the agent finished: the client hears everything it sent, then the close
            up.cancel()
        else:
            # the client went away (or closed): the command goes on only as long as the agent keeps it
            await agent.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(down), 5.0)
            down.cancel()
        for t in (up, down):
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError, RuntimeError):
                await t
    finally:
        up.cancel()
        down.cancel()
        if not client.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await client.close()
