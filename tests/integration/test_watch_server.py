"""A real `minikube-py server` process with open watches: SIGTERM ends them and the process at once,
and a watch's timeout holds for a client that never reads."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.server import RunningServer, start_server, stop_server

CMS = "/api/v1/namespaces/default/configmaps"


def _get(server: RunningServer, path: str) -> str:
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(req, context=server.ssl_context(), timeout=10) as resp:
        return str(resp.read().decode())


def _watchers(server: RunningServer) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in _get(server, "/metrics").splitlines()
               if line.startswith("apiserver_registered_watchers{") and 'resource="configmaps"' in line)


def _wait_for_watchers(server: RunningServer, n: int, within: float = 20, *, at_least: bool = False) -> None:
    deadline = time.monotonic() + within
    while not (_watchers(server) >= n if at_least else _watchers(server) == n):
        assert time.monotonic() < deadline, f"the server does not show {n} configmap watches"
        time.sleep(0.1)


def _stalled(server: RunningServer, query: str) -> ssl.SSLSocket:
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    tls = server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(f"GET {CMS}?watch=true&{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {server.token}\r\n\r\n".encode())
    return tls


class _Reader(threading.Thread):
    """A watch that reads everything until its stream ends."""

    def __init__(self, server: RunningServer) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPSConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]),
                                                context=server.ssl_context(), timeout=60)
        self.conn.request("GET", f"{CMS}?watch=true", headers={"Authorization": f"Bearer {server.token}"})
        self.resp = self.conn.getresponse()
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            while self.resp.readline():
                pass
        except OSError:
            pass
        self.ended.set()


@pytest.mark.parametrize("control_plane", [False, True], ids=["api-only", "with-control-plane"])
def test_sigterm_with_open_watches_exits_within_seconds(tmp_path: Path, control_plane: bool) -> None:
    server = start_server(tmp_path / "server", "sqlite", control_plane=control_plane)
    try:
        reader = _Reader(server)
        reader.start()
        stalled = _stalled(server, "timeoutSeconds=600")
        _wait_for_watchers(server, 2, within=30, at_least=True)  # the controllers may watch configmaps too
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        elapsed = time.monotonic() - started
        assert server.process.returncode == 0, server.log()[-3000:]
        assert elapsed < 5, f"SIGTERM took {elapsed:.1f} s"
        assert reader.ended.wait(5)
        stalled.close()
    finally:
        stop_server(server.process)


def test_watch_timeout_ends_a_stream_whose_client_never_reads(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", "sqlite")
    try:
        stalled = _stalled(server, "timeoutSeconds=2")
        _wait_for_watchers(server, 1)
        started = time.monotonic()
        _wait_for_watchers(server, 0, within=15)
        assert time.monotonic() - started < 6
        stalled.close()
    finally:
        stop_server(server.process)
