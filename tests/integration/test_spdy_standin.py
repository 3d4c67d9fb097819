"""Real kubectl (SPDY/3.1 and SPDY in WebSocket) against the apiserver, with a stand-in node agent.

The apiserver runs in-process (make_app over plain HTTP on loopback); the stand-in agent speaks the
streaming contract on HTTPS (a `/exec` that runs the command as a host subprocess, v5 channels;
a `/portForward` that dials 127.0.0.1:PORT), so these tests pin the apiserver's protocol
translation without Docker: exec with stdin, output and exit code over SPDY (kubectl 1.20, 1.28),
port-forward over SPDY (1.28) and inside a WebSocket (1.35), a refused port, the Python client's
WebSocket port-forward.  tests/integration/test_portforward_spdy.py does the same with the real agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from minikube_py.api import channels
from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.auth import ensure_credentials
from minikube_py.store import open_store
from tests.fixtures.kubectl import cache_path


def _kubectl(minor: int) -> Path:
    path = cache_path(minor)
    if not path.exists():
        pytest.skip(f"kubectl 1.{minor} is not cached (python -m tests.fixtures.kubectl)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _agent_exec(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(channels.V5, channels.V4))
    await ws.prepare(request)
    q = request.query
    proc = await asyncio.create_subprocess_exec(
        *q.getall("command"), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdin and proc.stdout and proc.stderr

    async def out(stream: asyncio.StreamReader, channel: int) -> None:
        while chunk := await stream.read(65536):
            await ws.send_bytes(bytes([channel]) + chunk)

    async def inp() -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data[:1] == b"\x00":
                proc.stdin.write(msg.data[1:])  # type: ignore[union-attr]
            elif msg.type == aiohttp.WSMsgType.BINARY and msg.data == bytes([channels.CLOSE, 0]):
                proc.stdin.close()  # type: ignore[union-attr]

    reader = asyncio.create_task(inp())
    await asyncio.gather(out(proc.stdout, 1), out(proc.stderr, 2))
    code = await proc.wait()
    status: dict[str, Any] = {"metadata": {}, "status": "Success"} if code == 0 else {
        "metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {code}",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    await ws.send_bytes(bytes([3]) + json.dumps(status).encode())
    reader.cancel()
    await ws.close()
    return ws


async def _agent_portforward(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("portforward.minikube-py.io",))
    await ws.prepare(request)
    port = int(request.query["port"])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
        await ws.send_str(json.dumps({"error": f"dial tcp 127.0.0.1:{port}: connect: {reason}"}))
        await ws.close()
        return ws

    async def down() -> None:
        while chunk := await reader.read(65536):
            await ws.send_bytes(chunk)
        await ws.send_str('{"eof": true}')

    task = asyncio.create_task(down())
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY:
            writer.write(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("eof"):
            writer.write_eof()
            break
    await task
    writer.close()
    await ws.close()
    return ws


@dataclass
class Standin:
    kubeconfig: Path
    http_port: int  # a pod's HTTP server (the stand-in agent dials 127.0.0.1:PORT)
    refused_port: int

    async def kubectl(self, minor: int, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            str(_kubectl(minor)), "--kubeconfig", str(self.kubeconfig), *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
        return proc.returncode or 0, out.decode(), err.decode()


async def _http_server() -> tuple[asyncio.Server, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            body = b"hello from the pod\n"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


@pytest.fixture
async def standin(tmp_path: Path) -> AsyncIterator[Standin]:
    creds = ensure_credentials(tmp_path / "pki-owner", hosts=["127.0.0.1"], server_url="https://127.0.0.1:1")
    agent_app = web.Application()
    agent_app.router.add_get("/exec/{ns}/{pod}/{container}", _agent_exec)
    agent_app.router.add_get("/portForward/{ns}/{pod}", _agent_portforward)
    agent_runner = web.AppRunner(agent_app)
    await agent_runner.setup()
    agent_port = _free_port()
    await web.TCPSite(agent_runner, "127.0.0.1", agent_port, ssl_context=creds.ssl_context()).start()

    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    store = open_store("sqlite", tmp_path)
    api_runner = web.AppRunner(make_app(store, kubelet_client=client_ctx))
    await api_runner.setup()
    api_port = _free_port()
    await web.TCPSite(api_runner, "127.0.0.1", api_port).start()
    base = f"http://127.0.0.1:{api_port}"
    async with aiohttp.ClientSession() as http:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "standin"}}
        (await http.post(f"{base}/api/v1/nodes", json=node)).raise_for_status()
        status = {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                             "daemonEndpoints": {"kubeletEndpoint": {"Port": agent_port}}}}
        (await http.patch(f"{base}/api/v1/nodes/standin/status", data=json.dumps(status),
                          headers={"Content-Type": "application/merge-patch+json"})).raise_for_status()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"nodeName": "standin", "containers": [{"name": "main", "image": "busybox"}]}}
        for _ in range(50):  # the default namespace appears at startup
            resp = await http.post(f"{base}/api/v1/namespaces/default/pods", json=pod)
            if resp.status == 201:
                break
            await asyncio.sleep(0.1)
        resp.raise_for_status()
        (await http.patch(f"{base}/api/v1/namespaces/default/pods/web/status", data='{"status":{"phase":"Running"}}',
                          headers={"Content-Type": "application/merge-patch+json"})).raise_for_status()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": base}}], "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}]}))
    server, http_port = await _http_server()
    try:
        yield Standin(kubeconfig, http_port, _free_port())
    finally:
        server.close()
        await api_runner.cleanup()
        await agent_runner.cleanup()
        await store.close()


@pytest.mark.parametrize("minor", [20, 28])
async def test_exec_over_spdy_relays_stdin_output_and_the_exit_code(standin: Standin, minor: int) -> None:
    code, out, err = await standin.kubectl(minor, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2")
    assert (code, out, err.strip()) == (0, "out\n", "err")
    code, out, _ = await standin.kubectl(minor, "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z",
                                         stdin=b"hello\nworld\n")
    assert (code, out) == (0, "HELLO\nWORLD\n")
    code, _, err = await standin.kubectl(minor, "exec", "web", "--", "sh", "-c", "exit 7")
    assert code == 7, err
    assert "command terminated with exit code 7" in err


async def _get_through(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return data


async def _port_forward(standin: Standin, minor: int) -> tuple[asyncio.subprocess.Process, int, int]:
    local, local_refused = _free_port(), _free_port()
    proc = await asyncio.create_subprocess_exec(
        str(_kubectl(minor)), "--kubeconfig", str(standin.kubeconfig), "port-forward", "--address", "127.0.0.1", "pod/web",
        f"{local}:{standin.http_port}", f"{local_refused}:{standin.refused_port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    for _ in range(2):
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"Forwarding from 127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"kubectl port-forward: {line!r} {(await proc.communicate())[1]!r}")
    return proc, local, local_refused


@pytest.mark.parametrize("minor", [20, 28, 35])
async def test_port_forward_spdy_and_tunnelled_answers_and_survives_a_refused_port(standin: Standin,
                                                                                   minor: int) -> None:
    proc, local, refused = await _port_forward(standin, minor)
    try:
        assert (await _get_through(local)).endswith(b"hello from the pod\n")
        assert await _get_through(refused) == b""
        if minor < 23:  # the next connection works
            assert (await _get_through(local)).endswith(b"hello from the pod\n")
        else:  # kubectl >= 1.23 closes its connection after a forwarding error, and exits
            assert await asyncio.wait_for(proc.wait(), 10) == 1
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        _, err = await proc.communicate()
    text = err.decode()
    assert f"an error occurred forwarding {refused} -> {standin.refused_port}: error forwarding port " \
           f"{standin.refused_port} to pod " in text, text
    assert "connect: connection refused" in text, text
    if minor >= 23:
        assert "error: lost connection to pod" in text, text


async def test_python_clients_websocket_port_forward(standin: Standin) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    api_client = await asyncio.to_thread(config.new_client_from_config, str(standin.kubeconfig))
    api = client.CoreV1Api(api_client)

    def get() -> bytes:
        pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(standin.http_port))
        sock = pf.socket(standin.http_port)
        sock.settimeout(5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        assert pf.error(standin.http_port) is None
        return data

    assert (await asyncio.to_thread(get)).endswith(b"hello from the pod\n")
