"""The apiserver's exec relay in-process, against a stand-in agent on loopback TLS: the client's protocol
(v5, v4 base64, channel.k8s.io) is translated to the agent's and back, and an agent's refusal
reaches the client as the agent's Status.  The real agent is tested in tests/integration/test_streaming.py;
this covers the protocols kubectl and the Python client do not speak."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from agents.kubelet.streamgate import ensure_serving_cert, server_context
from minikube_py.api import channels
from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.auth import User
from minikube_py.apiserver.streaming import kubelet_client_context
from minikube_py.client import wsdial
from minikube_py.store import open_store

TOKEN = "relay-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEEN: web.AppKey[list[Any]] = web.AppKey("seen", list)
EXEC = "/api/v1/namespaces/default/pods/{pod}/exec?command=shout&stdin=true&stdout=true"


async def _stand_in_agent(request: web.Request) -> web.StreamResponse:
    """Upper-cases stdin onto stdout; at stdin's end (v5 close frame, or the first frame on v4) exits 2."""
    if request.match_info["pod"] == "stranger":  # an agent of another cluster
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401,
                                  "reason": "Unauthorized", "message": "Unauthorized"}, status=401)
    if request.match_info["pod"] == "bad":
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
                                  "reason": "BadRequest", "message": 'container not found ("main")'}, status=400)
    ws = web.WebSocketResponse(protocols=channels.AGENT_PROTOCOLS)
    await ws.prepare(request)
    request.app[SEEN].append((ws.ws_protocol, request.query.getall("command")))
    async for msg in ws:
        frame = channels.decode(msg.data, ws.ws_protocol or channels.V4)
        if frame.channel == channels.STDIN:
            await ws.send_bytes(bytes([channels.STDOUT]) + frame.data.upper())
        if frame.channel == channels.CLOSE or ws.ws_protocol == channels.V4:
            break
    await ws.send_bytes(bytes([channels.ERROR]) + json.dumps(channels.exit_status(2)).encode())
    await ws.close()
    return ws


@pytest.fixture
async def relay(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[tuple[TestClient, list[Any]]]:
    cert, key = ensure_serving_cert(tmp_path / "pki", "node-a", "127.0.0.1")
    agent_app = web.Application()
    agent_app[SEEN] = []
    agent_app.router.add_get("/exec/{ns}/{pod}/{container}", _stand_in_agent)
    runner = web.AppRunner(agent_app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context(cert, key, None)).start()
    store = open_store("sqlite", tmp_path)
    app = make_app(store, tokens={TOKEN: User("admin", "1", ("system:masters",))},
                   kubelet_client=kubelet_client_context(cert, key))  # any certificate: the stand-in checks none
    client: TestClient = await aiohttp_client(app, headers=AUTH)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
    assert (await client.post("/api/v1/nodes", json=node)).status == 201
    await client.put("/api/v1/nodes/node-a/status", json=(await (await client.get("/api/v1/nodes/node-a")).json())
                     | {"status": node["status"]})
    for name in ("p", "bad", "stranger"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "busybox"}]}}
        assert (await client.post("/api/v1/namespaces/default/pods", json=pod)).status == 201
    yield client, agent_app[SEEN]
    await client.close()
    await runner.cleanup()
    await store.close()


async def _frames(ws: aiohttp.ClientWebSocketResponse) -> list[bytes | str]:
    return [msg.data async for msg in ws if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT)]


async def test_v5_passes_through_with_the_stdin_close_frame(relay: tuple[TestClient, list[Any]]) -> None:
    client, seen = relay
    async with client.ws_connect(EXEC.format(pod="p"), protocols=(channels.V5,)) as ws:
        assert ws.protocol == channels.V5
        await ws.send_bytes(b"\x00hi")
        await ws.send_bytes(bytes([channels.CLOSE, channels.STDIN]))
        got = await _frames(ws)
    assert got[0] == b"\x01HI"
    assert channels.exit_code(channels.parse_status(bytes(got[-1])[1:])) == 2
    assert seen == [(channels.V5, ["shout"])]


async def test_a_base64_client_is_translated_to_v4_and_back(relay: tuple[TestClient, list[Any]]) -> None:
    client, seen = relay
    async with client.ws_connect(EXEC.format(pod="p"), protocols=(channels.V4_BASE64,)) as ws:
        assert ws.protocol == channels.V4_BASE64
        await ws.send_str("0" + base64.b64encode(b"abc").decode())
        got = await _frames(ws)
    assert got[0] == "1" + base64.b64encode(b"ABC").decode()
    assert isinstance(got[-1], str) and got[-1][0] == "3"
    assert channels.exit_code(json.loads(base64.b64decode(got[-1][1:]))) == 2
    assert seen == [(channels.V4, ["shout"])]


async def test_channel_k8s_io_gets_a_plain_text_error(relay: tuple[TestClient, list[Any]]) -> None:
    client, _ = relay
    async with client.ws_connect(EXEC.format(pod="p"), protocols=(channels.V1,)) as ws:
        await ws.send_bytes(b"\x00x")
        got = await _frames(ws)
    assert got == [b"\x01X", b"\x03command terminated with non-zero exit code: 2"]


async def test_an_agents_refusal_reaches_the_client_as_its_status(relay: tuple[TestClient, list[Any]]) -> None:
    client, seen = relay
    async with aiohttp.ClientSession(trace_configs=[wsdial.session_trace()]) as session:
        with pytest.raises(wsdial.UpgradeRefused) as info:
            await wsdial.ws_connect(session, str(client.make_url(EXEC.format(pod="bad"))), headers=AUTH,
                                    protocols=(channels.V5,))
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == 'container not found ("main")'
    assert seen == []


async def test_an_agent_that_refuses_the_apiserver_is_a_server_error_not_the_clients(
        relay: tuple[TestClient, list[Any]]) -> None:
    client, _ = relay
    resp = await client.get(EXEC.format(pod="stranger"), headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                                  "Sec-WebSocket-Version": "13",
                                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 500
    body = await resp.json()
    assert body["reason"] == "InternalError"
    assert "refused the apiserver's kubelet-client certificate" in body["message"]
