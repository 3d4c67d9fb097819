"""One contract, two stores: the embedded sqlite store and a real etcd behave the same."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from minikube_py.store.base import (
    Expired,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    OutcomeUnknown,
    RevisionMismatch,
    Store,
    Unavailable,
    WatchEvent,
)
from minikube_py.store.etcd import EtcdStore
from minikube_py.store.sqlite import HISTORY_PAGE, SqliteStore
from tests.fixtures.etcd import EtcdProcess


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "state.db")
    else:
        s = EtcdStore([request.getfixturevalue("etcd_process").endpoint], compaction_interval=0)
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
    task = asyncio.ensure_future(collect(it, 4))  # from a revision: however late it starts, it sees all
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
    started = asyncio.Event()
    it = store.watch("/registry/w/", started=started).__aiter__()
    task = asyncio.ensure_future(collect(it, 1))
    await asyncio.wait_for(started.wait(), 10)  # "now" is fixed: what comes next is seen
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
    task = asyncio.ensure_future(collect(it, 4, within=40))  # from a revision: it sees all that follows
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


async def test_list_reads_exactly_at_an_older_revision_and_refuses_a_future_one(store: Store) -> None:
    a = await store.create("/registry/l/a", b"1")
    await store.update("/registry/l/a", b"2", expected_revision=a.mod_revision)
    await store.create("/registry/l/b", b"3")
    then = await store.list("/registry/l/", revision=a.mod_revision)
    assert [(kv.key, kv.value) for kv in then.items] == [("/registry/l/a", b"1")] and then.revision == a.mod_revision
    now = await store.current_revision()
    with pytest.raises(FutureRevision):
        await store.list("/registry/l/", revision=now + 10)


async def test_list_at_a_compacted_revision_is_expired(store: Store) -> None:
    kv = await store.create("/registry/l/a", b"1")
    for i in range(3):
        kv = await store.update("/registry/l/a", str(i).encode(), expected_revision=kv.mod_revision)
    await store.compact(kv.mod_revision)
    assert len((await store.list("/registry/l/", revision=kv.mod_revision)).items) == 1  # kept
    with pytest.raises(Expired):
        await store.list("/registry/l/", revision=kv.mod_revision - 1)


async def test_sqlite_history_is_bounded_by_bytes_as_well_as_count(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "state.db", history=20_000, history_bytes=1 << 20)
    kv = await s.create("/registry/x/a", b"0" * 20_000)
    first = kv.mod_revision
    for i in range(200):  # 200 x 40 KB (value and previous value) = 8 MB of history asked for
        kv = await s.update("/registry/x/a", str(i).encode() * 10_000, expected_revision=kv.mod_revision)
    (size,) = s._db.execute("SELECT SUM(length(value) + coalesce(length(prev_value), 0)) FROM events").fetchone()
    assert size <= 1.05 * (1 << 20)
    with pytest.raises(Expired):
        await collect(s.watch("/registry/x/", start_revision=first).__aiter__(), 1)
    await s.close()
    again = SqliteStore(tmp_path / "state.db", history=20_000, history_bytes=1 << 20)  # the bound survives a restart
    assert again._history_total == size
    await again.close()


async def test_sqlite_watch_replays_more_history_than_one_page_exactly_once(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "state.db")
    first = await s.create("/registry/p/0", b"0")
    for i in range(1, 3 * HISTORY_PAGE + 7):
        await s.create(f"/registry/p/{i}", b"x")
        await s.create(f"/registry/other/{i}", b"y")
    it = s.watch("/registry/p/", start_revision=first.mod_revision).__aiter__()
    task = asyncio.ensure_future(collect(it, 3 * HISTORY_PAGE + 8))
    await asyncio.sleep(0)
    await s.create("/registry/p/live", b"z")
    events = await task
    assert [e.kv.key for e in events] == [f"/registry/p/{i}" for i in range(3 * HISTORY_PAGE + 7)] + ["/registry/p/live"]
    await it.aclose()  # type: ignore[attr-defined]
    await s.close()


@pytest.mark.etcd
async def test_etcd_compactor_compacts_to_the_revision_seen_one_interval_earlier(etcd_process: EtcdProcess) -> None:
    store = EtcdStore([etcd_process.endpoint], compaction_interval=0)
    kv = await store.create("/registry/c/a", b"0")
    version, seen = await store.compact_round(0, 0)  # the first round only notes where history starts
    assert store.compacted_revision == 0 and seen >= kv.mod_revision
    later = await store.update("/registry/c/a", b"1", expected_revision=kv.mod_revision)
    version, _ = await store.compact_round(version, seen)  # compacts to the first round's revision
    assert store.compacted_revision == seen
    with pytest.raises(Expired):
        await store.list("/registry/c/", revision=kv.mod_revision - 1)
    got = await collect(store.watch("/registry/c/", start_revision=later.mod_revision).__aiter__(), 1)
    assert got[0].kv.value == b"1"  # what was written in the last interval is still there
    other = EtcdStore([etcd_process.endpoint], compaction_interval=0)  # a second apiserver on the same etcd
    assert await other.compact_round(0, 0) == (version, await other.current_revision())  # it follows, no compaction
    assert other.compacted_revision == 0
    await other.close()
    await store.close()


@pytest.mark.etcd
async def test_etcd_is_compacted_periodically_so_old_revisions_expire(etcd_process: EtcdProcess) -> None:
    store = EtcdStore([etcd_process.endpoint], compaction_interval=0.2)
    kv = await store.create("/registry/c/a", b"0")
    for i in range(3):
        kv = await store.update("/registry/c/a", str(i).encode(), expected_revision=kv.mod_revision)
    await asyncio.wait_for(store.wait_for_compaction_rounds(store.compaction_rounds + 2), 10)
    assert store.compacted_revision >= kv.mod_revision
    with pytest.raises(Expired):
        await collect(store.watch("/registry/c/", start_revision=2).__aiter__(), 1)
    await store.close()


@pytest.mark.etcd
async def test_etcd_serves_again_within_seconds_after_a_restart(etcd_process: EtcdProcess) -> None:
    store = EtcdStore([etcd_process.endpoint], compaction_interval=0)
    await store.create("/registry/r/a", b"0")
    etcd_process.stop()
    loop = asyncio.get_running_loop()
    down = loop.time()
    while loop.time() - down < 7:  # clients keep asking while etcd is down: gRPC's default backoff grows to ~5 s
        with pytest.raises(Unavailable):
            await store.get("/registry/r/a")
    etcd_process.start()
    started = loop.time()
    while True:
        try:
            assert await store.get("/registry/r/a") is not None
            break
        except Unavailable:
            assert loop.time() - started < 5, "the store did not reconnect within 5 s"
    assert loop.time() - started < 3
    await store.close()


class _Proxy:
    """TCP between the store and etcd that can swallow etcd's answers and cut every connection."""

    def __init__(self, upstream: str) -> None:
        self.host, _, port = upstream.rpartition(":")
        self.upstream_port = int(port)
        self.swallow = False
        self.sent_while_swallowing = asyncio.Event()
        self.answer_swallowed = asyncio.Event()  # etcd answered (so it had committed) and we dropped it
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if upstream and self.swallow:
                        self.answer_swallowed.set()
                        continue  # etcd's answer never arrives
                    dst.write(data)
                    if not upstream and self.swallow:
                        self.sent_while_swallowing.set()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    def cut(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.mark.etcd
async def test_etcd_write_that_got_no_answer_is_outcome_unknown_and_one_never_sent_unavailable(
        etcd_process: EtcdProcess) -> None:
    proxy = _Proxy(etcd_process.endpoint)
    store = EtcdStore([await proxy.start()], compaction_interval=0)
    await store.create("/registry/u/a", b"1")  # connected
    proxy.swallow = True
    write = asyncio.ensure_future(store.create("/registry/u/b", b"2"))
    await asyncio.wait_for(proxy.sent_while_swallowing.wait(), 5)
    await asyncio.wait_for(proxy.answer_swallowed.wait(), 5)
    direct = EtcdStore([etcd_process.endpoint], compaction_interval=0)

    # the signal: etcd has the write (its answer was dropped on the way); a watch from the start says so
    changes = direct.watch("/registry/u/b", start_revision=1).__aiter__()
    await asyncio.wait_for(changes.__anext__(), 5)
    await changes.aclose()  # type: ignore[attr-defined]
    proxy.cut()
    with pytest.raises(OutcomeUnknown):
        await write
    await direct.close()
    await proxy.close()  # nothing listens any more: the next write is never sent
    with pytest.raises(Unavailable):
        await store.create("/registry/u/c", b"3")
    await store.close()
