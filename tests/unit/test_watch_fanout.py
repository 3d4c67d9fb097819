"""Watch fan-out in-process on the real sqlite store: one store watch per resource, events encoded
once, slow watchers cut (never everyone), timeouts that hold for clients that never read, and
every watch ended at shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from minikube_py.apiserver import broadcast, watch, watchevent
from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.metrics import exposition
from minikube_py.store.sqlite import SqliteStore

CMS = "/api/v1/namespaces/default/configmaps"
SMALL = watch.Limits(max_events=200, max_bytes=256 << 10, write_budget=0.3, ring_events=16, ring_bytes=1 << 20,
                     write_high=16 << 10, check_interval=0.02)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    yield SqliteStore(tmp_path / "state.db")


async def client_for(aiohttp_client: Any, store: SqliteStore, limits: watch.Limits = SMALL,
                     min_request_timeout: float = 1800.0) -> TestClient:
    app = make_app(store, watch_limits=limits, min_request_timeout=min_request_timeout)
    client: TestClient = await aiohttp_client(app)
    return client


@pytest.fixture
async def api(aiohttp_client: Any, store: SqliteStore) -> AsyncIterator[TestClient]:
    yield await client_for(aiohttp_client, store)
    await store.close()


def cm(name: str, size: int = 0, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"blob": "x" * size}}


async def current_rv(api: TestClient) -> str:
    return str((await (await api.get(CMS)).json())["metadata"]["resourceVersion"])


async def read_events(api: TestClient, query: str, count: int, within: float = 10) -> list[dict[str, Any]]:
    resp = await api.get(f"{CMS}?watch=true&{query}")
    assert resp.status == 200
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while len(out) < count:
            line = await resp.content.readline()
            if not line:
                break
            out.append(json.loads(line))
    resp.close()
    return out


async def until_watching(api: TestClient, n: int) -> None:
    """Until n watchers run on broadcasters (their feeds are done): the signal that writes are seen."""
    hub = api.app[watch.HUB_KEY]
    for _ in range(1000):
        if sum(len(bc.watchers) for bc in hub.broadcasters.values()) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {n} watchers joined a broadcaster within 10 s")


def stalled_watch(api: TestClient, query: str) -> socket.socket:
    """A watch whose client never reads: a tiny receive buffer, the request sent, nothing read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((str(api.server.host), int(api.server.port or 0)))
    sock.sendall(f"GET {CMS}?watch=true&{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def server_side(api: TestClient, client: socket.socket) -> broadcast.Watcher:
    """The server's watcher of a raw client socket, its kernel send buffer made small: without that
    Linux lets a few MB sit in the kernel for a client that reads nothing."""
    port = client.getsockname()[1]
    (watcher,) = [w for w in api.app[watch.HUB_KEY].watchers if w.transport.get_extra_info("peername")[1] == port]
    watcher.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    return watcher


def terminated(reason: str) -> float:
    for line in exposition().decode().splitlines():
        if line.startswith("apiserver_terminated_watchers_total{") and f'reason="{reason}"' in line \
                and 'resource="configmaps"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_watchers_share_one_store_watch_and_each_event_is_encoded_once(
        aiohttp_client: Any, store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store_watches = 0
    real_watch = store.watch

    def counting_watch(prefix: str, **kwargs: Any) -> Any:
        nonlocal store_watches
        store_watches += 1
        return real_watch(prefix, **kwargs)

    monkeypatch.setattr(store, "watch", counting_watch)
    encodings = 0
    real_event = watchevent.Encoder.event

    def counting_event(self: watchevent.Encoder, type_: str, obj: dict[str, Any]) -> bytes:
        nonlocal encodings
        encodings += 1
        return real_event(self, type_, obj)

    monkeypatch.setattr(watchevent.Encoder, "event", counting_event)
    api = await client_for(aiohttp_client, store)
    rv = await current_rv(api)
    readers = [asyncio.create_task(read_events(api, f"resourceVersion={rv}", 10)) for _ in range(20)]
    await until_watching(api, 20)
    for i in range(10):
        assert (await api.post(CMS, json=cm(f"c{i}"))).status == 201
    results = await asyncio.gather(*readers)
    assert all([e["object"]["metadata"]["name"] for e in r] == [f"c{i}" for i in range(10)] for r in results)
    assert store_watches == 1
    assert encodings == 10
    await store.close()


async def test_stalled_watcher_is_cut_and_counted_while_readers_get_every_event(
        api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    rv = await current_rv(api)
    before = terminated("queue_full") + terminated("blocked")
    stalled = stalled_watch(api, f"resourceVersion={rv}")
    readers = [asyncio.create_task(read_events(api, f"resourceVersion={rv}", 150, within=30)) for _ in range(3)]
    await until_watching(api, 4)
    slow = server_side(api, stalled)
    with caplog.at_level(logging.WARNING, "minikube_py.apiserver.watch"):
        for i in range(150):  # 1.5 MB: far more than the stalled client's socket buffers and its queue
            assert (await api.post(CMS, json=cm(f"big-{i}", size=10_000))).status == 201
        results = await asyncio.gather(*readers)
    assert [len(r) for r in results] == [150, 150, 150]
    assert all(r[-1]["object"]["metadata"]["name"] == "big-149" for r in results)
    assert terminated("queue_full") + terminated("blocked") == before + 1
    assert any("cut at resourceVersion" in rec.getMessage() for rec in caplog.records)
    assert slow.cut_reason and slow.done.done()
    stalled.close()


async def test_watch_timeout_ends_the_stream_of_a_client_that_never_reads(
        aiohttp_client: Any, store: SqliteStore) -> None:
    roomy = watch.Limits(max_events=10_000, max_bytes=64 << 20, write_budget=60, write_high=16 << 10)
    api = await client_for(aiohttp_client, store, roomy)
    rv = await current_rv(api)
    stalled = stalled_watch(api, f"resourceVersion={rv}&timeoutSeconds=1")
    await until_watching(api, 1)
    watcher = server_side(api, stalled)
    for i in range(60):  # enough to fill the client's buffers: the server cannot end the stream cleanly
        await api.post(CMS, json=cm(f"t-{i}", size=10_000))
    assert await asyncio.wait_for(asyncio.shield(watcher.done), 5) == "timeout"
    stalled.setblocking(False)
    loop = asyncio.get_running_loop()
    tail = b""
    async with asyncio.timeout(5):  # the stream ends: its last chunk, or the connection dropped
        while not tail.endswith(b"\r\n0\r\n\r\n"):
            data = await loop.sock_recv(stalled, 1 << 16)
            if not data:
                break
            tail = (tail + data)[-16:]
    stalled.close()
    await store.close()


async def test_watch_without_timeout_seconds_gets_a_random_timeout_between_min_and_twice_min(
        aiohttp_client: Any, store: SqliteStore) -> None:
    api = await client_for(aiohttp_client, store, min_request_timeout=100)
    hub = api.app[watch.HUB_KEY]
    req = watch.WatchRequest(info=None, namespace=None, match=None, resource_version="",  # type: ignore[arg-type]
                             send_initial_events=False, allow_bookmarks=False, timeout=watch.default_timeout(None),
                             rep=None, include_object="Metadata")  # type: ignore[arg-type]
    loop_now = asyncio.get_running_loop().time()
    deadlines = [watch._deadline(req, hub) - loop_now for _ in range(200)]
    assert all(99 <= d <= 201 for d in deadlines) and max(deadlines) - min(deadlines) > 10
    assert watch.default_timeout("0") == 0  # timeoutSeconds=0 also means the server's default
    req.timeout = watch.default_timeout("3")
    assert 2.9 <= watch._deadline(req, hub) - loop_now <= 3.1
    await store.close()


async def test_resume_from_before_the_ring_replays_history_then_joins_the_broadcaster(api: TestClient) -> None:
    first = (await (await api.post(CMS, json=cm("r-0"))).json())["metadata"]["resourceVersion"]
    await read_events(api, "resourceVersion=0&timeoutSeconds=1", 1)  # starts the broadcaster
    for i in range(1, 40):  # more than the ring (16) holds
        await api.post(CMS, json=cm(f"r-{i}"))
    task = asyncio.create_task(read_events(api, f"resourceVersion={first}", 44))
    await until_watching(api, 1)
    for i in range(40, 45):
        await api.post(CMS, json=cm(f"r-{i}"))
    events = await task
    assert [e["object"]["metadata"]["name"] for e in events] == [f"r-{i}" for i in range(1, 45)]


async def test_selector_watchers_filter_shared_events_and_deleted_carries_the_previous_object(
        api: TestClient) -> None:
    rv = await current_rv(api)
    team_x = asyncio.create_task(read_events(api, f"resourceVersion={rv}&labelSelector=team%3Dx", 2))
    team_y = asyncio.create_task(read_events(api, f"resourceVersion={rv}&labelSelector=team%3Dy", 1))
    await until_watching(api, 2)
    await api.post(CMS, json=cm("s", team="x"))
    moved = await api.patch(f"{CMS}/s", json={"metadata": {"labels": {"team": "y"}}},
                            headers={"Content-Type": "application/merge-patch+json"})
    new_rv = (await moved.json())["metadata"]["resourceVersion"]
    x_events, y_events = await team_x, await team_y
    assert [e["type"] for e in x_events] == ["ADDED", "DELETED"]
    gone = x_events[1]["object"]["metadata"]
    assert gone["labels"] == {"team": "x"} and gone["resourceVersion"] == new_rv
    assert [e["type"] for e in y_events] == ["ADDED"]


async def test_shutdown_ends_every_watch_at_once(api: TestClient) -> None:
    rv = await current_rv(api)
    stalled = stalled_watch(api, f"resourceVersion={rv}")
    streams = [await api.get(f"{CMS}?watch=true&resourceVersion={rv}") for _ in range(3)]
    await until_watching(api, 4)
    server_side(api, stalled)
    for i in range(40):
        await api.post(CMS, json=cm(f"d-{i}", size=10_000))
    hub = api.app[watch.HUB_KEY]
    await asyncio.wait_for(hub.close(), 2)
    async with asyncio.timeout(3):
        for resp in streams:
            while await resp.content.readline():
                pass
    assert not hub.watchers and not hub.broadcasters
    stalled.close()


async def test_a_watcher_joining_a_broadcaster_whose_store_watch_ended_is_ended_not_left_silent(
        store: SqliteStore) -> None:
    class DyingStore:
        """The store, except that its watch fails at once (an overflow, a compaction, etcd away)."""

        def __init__(self, inner: SqliteStore) -> None:
            self.inner = inner

        async def current_revision(self) -> int:
            return await self.inner.current_revision()

        async def _failing(self) -> Any:
            raise RuntimeError("the store watch broke")
            yield  # an async generator

        def watch(self, prefix: str, **kwargs: Any) -> Any:
            return self._failing()

    hub = broadcast.WatchHub(DyingStore(store))  # type: ignore[arg-type]
    bc = await hub.broadcaster("/registry/configmaps/", "configmaps")  # started, then its watch fails
    await bc.task
    assert bc.closed is not None and not bc.covers(bc.since)  # nobody is sent here any more
    watcher = broadcast.Watcher(hub, resource="configmaps", key_prefix="/registry/configmaps/", match=None,
                                encoder=None, transport=None, who="test", limits=SMALL)  # type: ignore[arg-type]
    bc.attach(watcher, after=0)  # a watch that got `bc` before it died
    assert watcher.done.done() and "broke" in watcher.done.result()
    assert watcher not in bc.watchers
    await store.close()
