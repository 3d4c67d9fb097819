"""One contract, two stores: the embedded sqlite store and a real etcd behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from minikube_py.store.base import (
    Expired,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
    WatchEvent,
)
from minikube_py.store.etcd import EtcdStore
from minikube_py.store.sqlite import SqliteStore
from tests.fixtures.etcd import EtcdProcess


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "state.db")
    else:
        s = EtcdStore([request.getfixturevalue("etcd_process").endpoint])
    yield s
    await s.close()


async def collect(it: AsyncIterator[WatchEvent], n: int, within: float = 10) -> list[WatchEvent]:
    """The first n events of a watch, failing after `within` seconds."""
    out: list[WatchEvent] = []
    async with asyncio.timeout(within):
        async for ev in it:
            out.append(ev)
            if len(out) == n:
                break
    return out


async def test_create_get_and_revisions_are_global_and_monotonic(store: Store) -> None:
    a = await store.create("/registry/x/a", b"1")
    b = await store.create("/registry/y/b", b"2")
    assert b.mod_revision > a.mod_revision
    assert a.create_revision == a.mod_revision
    got = await store.get("/registry/x/a")
    assert got is not None and got.value == b"1" and got.mod_revision == a.mod_revision
    assert await store.get("/registry/x/missing") is None
    assert await store.current_revision() == b.mod_revision


async def test_create_existing_key_raises_key_exists(store: Store) -> None:
    await store.create("/registry/x/a", b"1")
    with pytest.raises(KeyExists):
        await store.create("/registry/x/a", b"2")


async def test_list_by_prefix_with_limit_and_start_after(store: Store) -> None:
    for name in ("c", "a", "b", "d"):
        await store.create(f"/registry/pods/ns/{name}", name.encode())
    await store.create("/registry/pods/other/z", b"z")
    await store.create("/registry/podsx/ns/q", b"q")
    page = await store.list("/registry/pods/ns/", limit=2)
    assert [kv.key for kv in page.items] == ["/registry/pods/ns/a", "/registry/pods/ns/b"] and page.more
    rest = await store.list("/registry/pods/ns/", limit=2, start_after=page.items[-1].key)
    assert [kv.value for kv in rest.items] == [b"c", b"d"] and not rest.more
    everything = await store.list("/registry/pods/")
    assert len(everything.items) == 5
    assert everything.revision == await store.current_revision()


async def test_large_lists_are_complete_and_consistent(store: Store) -> None:
    """More keys than one backend page (etcd reads 500 a call) and more bytes than a 4 MiB gRPC reply."""
    blob = b"x" * 6000
    await asyncio.gather(*(store.create(f"/registry/big/{i:05d}", blob) for i in range(1200)))
    whole = await store.list("/registry/big/")
    assert [kv.key for kv in whole.items] == [f"/registry/big/{i:05d}" for i in range(1200)] and not whole.more
    await store.create("/registry/big/99999", b"later")
    before = await store.list("/registry/big/", revision=whole.revision)
    assert len(before.items) == 1200  # read at the old revision: the later key is not there
    page = await store.list("/registry/big/", limit=700)
    assert len(page.items) == 700 and page.more


async def test_update_and_delete_are_guarded_by_revision(store: Store) -> None:
    kv = await store.create("/registry/x/a", b"1")
    new = await store.update("/registry/x/a", b"2", expected_revision=kv.mod_revision)
    assert new.create_revision == kv.create_revision and new.mod_revision > kv.mod_revision
    with pytest.raises(RevisionMismatch) as stale:
        await store.update("/registry/x/a", b"3", expected_revision=kv.mod_revision)
    assert stale.value.current is not None and stale.value.current.value == b"2"
    with pytest.raises(RevisionMismatch):
        await store.delete("/registry/x/a", expected_revision=kv.mod_revision)
    gone = await store.delete("/registry/x/a", expected_revision=new.mod_revision)
    assert gone.value == b"2" and gone.mod_revision > new.mod_revision
    with pytest.raises(KeyNotFound):
        await store.update("/registry/x/a", b"4", expected_revision=gone.mod_revision)
    with pytest.raises(KeyNotFound):
        await store.delete("/registry/x/a")


async def test_concurrent_creates_of_one_key_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.create("/registry/x/race", str(i).encode()) for i in range(10)),
                                   return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert all(isinstance(r, KeyExists) for r in results if isinstance(r, BaseException))


async def test_watch_replays_history_then_goes_live_exactly_once_in_order(store: Store) -> None:
    first = await store.create("/registry/w/a", b"1")
    await store.update("/registry/w/a", b"2", expected_revision=first.mod_revision)
    await store.create("/registry/other/x", b"-")
    it = store.watch("/registry/w/", start_revision=first.mod_revision).__aiter__()
    task = asyncio.ensure_future(collect(it, 4))
    await asyncio.sleep(0.3)
    b = await store.create("/registry/w/b", b"3")
    await store.delete("/registry/w/b", expected_revision=b.mod_revision)
    events = await task
    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        ("PUT", "/registry/w/a", b"1"), ("PUT", "/registry/w/a", b"2"),
        ("PUT", "/registry/w/b", b"3"), ("DELETE", "/registry/w/b", b"3")]
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert events[0].is_create and not events[1].is_create
    assert events[1].prev is not None and events[1].prev.value == b"1"
    assert events[0].prev is None and events[2].prev is None  # a create has no previous value
    await it.aclose()  # type: ignore[attr-defined]


async def test_watch_from_zero_sees_only_new_changes(store: Store) -> None:
    await store.create("/registry/w/old", b"old")
    it = store.watch("/registry/w/").__aiter__()
    task = asyncio.ensure_future(collect(it, 1))
    await asyncio.sleep(0.3)
    await store.create("/registry/w/new", b"new")
    assert [e.kv.key for e in await task] == ["/registry/w/new"]
    await it.aclose()  # type: ignore[attr-defined]


async def test_watch_from_a_compacted_revision_is_expired(store: Store) -> None:
    kv = await store.create("/registry/c/a", b"1")
    for i in range(3):
        kv = await store.update("/registry/c/a", str(i).encode(), expected_revision=kv.mod_revision)
    await store.compact(kv.mod_revision)
    with pytest.raises(Expired):
        await collect(store.watch("/registry/c/", start_revision=2).__aiter__(), 1)


async def test_sqlite_revisions_continue_after_reopen(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "state.db")
    kv = await s.create("/registry/x/a", b"1")
    await s.delete("/registry/x/a")
    last = await s.current_revision()
    await s.close()
    again = SqliteStore(tmp_path / "state.db")
    assert await again.current_revision() == last > kv.mod_revision
    assert (await again.create("/registry/x/b", b"2")).mod_revision == last + 1
    await again.close()


async def test_sqlite_watch_beyond_history_window_is_expired(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "state.db", history=5)
    kv = await s.create("/registry/x/a", b"0")
    for i in range(1200):  # history is trimmed every 1000 writes
        kv = await s.update("/registry/x/a", str(i).encode(), expected_revision=kv.mod_revision)
    with pytest.raises(Expired):
        await collect(s.watch("/registry/x/", start_revision=3).__aiter__(), 1)
    await s.close()


@pytest.mark.etcd
async def test_etcd_watch_resumes_across_restart_without_loss_or_repeat(etcd_process: EtcdProcess) -> None:
    store = EtcdStore([etcd_process.endpoint])
    first = await store.create("/registry/r/a", b"0")
    it = store.watch("/registry/r/", start_revision=first.mod_revision + 1).__aiter__()
    task = asyncio.ensure_future(collect(it, 4, within=40))
    await asyncio.sleep(0.3)
    kv = await store.update("/registry/r/a", b"1", expected_revision=first.mod_revision)
    kv = await store.update("/registry/r/a", b"2", expected_revision=kv.mod_revision)
    etcd_process.stop()
    await asyncio.sleep(0.5)
    etcd_process.start()
    for _ in range(50):  # the client reconnects by itself; writes may fail until it has
        try:
            kv = await store.update("/registry/r/a", b"3", expected_revision=kv.mod_revision)
            break
        except Exception:  # noqa: BLE001 - etcd still coming back
            await asyncio.sleep(0.2)
    await store.update("/registry/r/a", b"4", expected_revision=kv.mod_revision)
    events = await task
    assert [e.kv.value for e in events] == [b"1", b"2", b"3", b"4"]
    await it.aclose()  # type: ignore[attr-defined]
    await store.close()
