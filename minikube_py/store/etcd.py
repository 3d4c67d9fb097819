"""The etcd store: Kubernetes' own layout (`/registry/<resource>/<namespace>/<name>`) through aetcd.

Only the apiserver uses it (through the Store protocol in base.py), when started with
`--store etcd://HOST:PORT[,HOST:PORT...]`.  Creates, updates and deletes are transactions guarded
on create_revision / mod_revision, so optimistic concurrency is etcd's own.  aetcd's high-level
calls lack range limits and revisions, so ranges and transactions go through its gRPC stubs.
- A watch survives an etcd restart: when aetcd ends it with a connection error, it is re-created
  from the last delivered revision + 1, so no event is lost or repeated.
- The channel reconnects within a second of etcd coming back (gRPC's default backoff grows to
  two minutes).  A request waits briefly for a connecting channel; one that could not be sent is
  `Unavailable` (503), a write that was sent and got no answer is `OutcomeUnknown` (504).
- As kube-apiserver does (storage/etcd3/compact.go), a compactor compacts every
  `compaction_interval` to the revision it saw one interval earlier, so the last interval of
  history stays readable and older revisions are `Expired`.  Several apiservers on one etcd share
  the work through a compare-and-swap on the version of `compact_rev_key`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aetcd
import grpc
from aetcd import exceptions as aex
from aetcd import rpc

from .base import (
    Expired,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    OutcomeUnknown,
    RevisionMismatch,
    StoreError,
    Unavailable,
    WatchEvent,
)

log = logging.getLogger("minikube_py.store.etcd")
RANGE_PAGE = 500  # keys per etcd Range call: a page of large pods stays far below 4 MiB
MAX_REPLY_BYTES = 1 << 30
RPC_TIMEOUT = 10
CONNECT_WAIT = 1.0  # how long a request waits for a (re)connecting channel before it is Unavailable
DEFAULT_COMPACTION_INTERVAL = 300.0  # kube-apiserver's --etcd-compaction-interval default (5m)
COMPACT_REV_KEY = b"compact_rev_key"
CHANNEL_OPTIONS: dict[str, Any] = {
    # a page of RANGE_PAGE objects of up to 1.5 MiB each (etcd's value limit) must still fit one reply
    "grpc.max_receive_message_length": MAX_REPLY_BYTES,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    "grpc.keepalive_time_ms": 10_000,  # notice an etcd that stopped answering (etcd allows pings every 5 s)
    "grpc.keepalive_timeout_ms": 5_000,
}
_RETRYABLE = (aex.ConnectionFailedError, aex.ConnectionTimeoutError, aex.InternalError, aex.WatchTimeoutError)
_LOST = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
         grpc.StatusCode.UNKNOWN)
_NOT_SENT = ("failed to connect to all addresses", "connection refused", "no addresses", "name resolution",
             "channel is closed", "channel closed")
_WRITES = ("Txn",)


def _end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode(), bytes(kv.value), int(kv.create_revision), int(kv.mod_revision))


def _never_sent(exc: grpc.aio.AioRpcError) -> bool:
    """gRPC's words for a call that failed before it left this process."""
    details = (exc.details() or "").lower()
    return exc.code() == grpc.StatusCode.UNAVAILABLE and any(s in details for s in _NOT_SENT)


class EtcdStore:
    def __init__(self, endpoints: list[str], *, compaction_interval: float = DEFAULT_COMPACTION_INTERVAL) -> None:
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = endpoints
        self.compaction_interval = compaction_interval
        self.compacted_revision = 0  # the last revision this process compacted to (0: none yet)
        self.compaction_rounds = 0
        self._index = 0
        self._client = self._new_client()
        self._lock = asyncio.Lock()
        self._compactor: asyncio.Task[None] | None = None
        self._compaction_changed: asyncio.Condition | None = None

    def _new_client(self) -> aetcd.Client:
        host, _, port = self.endpoints[self._index].rpartition(":")
        return aetcd.Client(host=host, port=int(port), timeout=RPC_TIMEOUT, options=dict(CHANNEL_OPTIONS))

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._index]

    async def _stub(self) -> Any:
        """The KV stub of a connected channel; `Unavailable` if none connects within CONNECT_WAIT."""
        if self._compactor is None and self.compaction_interval > 0:
            self._compactor = asyncio.create_task(self._compact_forever(), name="etcd-compactor")
        try:
            await self._client.connect()  # creates the channel; gRPC connects lazily
        except _RETRYABLE as exc:
            raise Unavailable(f"etcd at {self.endpoint}: {exc}") from None
        channel = self._client.channel
        state = channel.get_state(try_to_connect=True)
        if state != grpc.ChannelConnectivity.READY:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CONNECT_WAIT
            while state != grpc.ChannelConnectivity.READY:
                remaining = deadline - loop.time()
                if remaining <= 0 or state == grpc.ChannelConnectivity.SHUTDOWN:
                    await self._rotate()
                    raise Unavailable(f"etcd at {self.endpoint}: not connected ({state.name.lower()})")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(channel.wait_for_state_change(state), remaining)
                state = channel.get_state(try_to_connect=True)
        return self._client.kvstub

    async def _call(self, method: str, request: Any) -> Any:
        """One unary KV call.  Failures before sending are `Unavailable`; a write that was sent and
        got no answer is `OutcomeUnknown` (it may have been applied); reads are always safe to retry."""
        stub = await self._stub()
        try:
            return await getattr(stub, method)(request, timeout=RPC_TIMEOUT, metadata=self._client.metadata)
        except grpc.aio.AioRpcError as exc:
            details = exc.details() or ""
            if exc.code() == grpc.StatusCode.OUT_OF_RANGE:
                requested = int(getattr(request, "revision", 0) or 0)
                if "compacted" in details:
                    raise Expired(requested, 0) from None
                if "future revision" in details:
                    raise FutureRevision(requested, await self.current_revision()) from None
            if exc.code() in _LOST:
                await self._rotate()
                if method in _WRITES and not _never_sent(exc):
                    raise OutcomeUnknown(f"etcd at {self.endpoint} did not answer a request it was sent "
                                         f"({exc.code().name}: {details})") from None
                raise Unavailable(f"etcd at {self.endpoint}: {details or exc.code().name}") from None
            raise StoreError(f"etcd at {self.endpoint}: {exc.code().name}: {details}") from None

    async def _rotate(self) -> None:
        if len(self.endpoints) > 1:
            async with self._lock:
                old = self._client
                self._index = (self._index + 1) % len(self.endpoints)
                self._client = self._new_client()
                await old.close()

    # --- reads ---------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        resp = await self._call("Range", rpc.RangeRequest(key=key.encode()))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0) -> ListResult:
        """Keys under prefix at one revision, read in pages so that no reply exceeds gRPC's 4 MiB."""
        start = (start_after + "\x00").encode() if start_after and start_after >= prefix else prefix.encode()
        end = _end(prefix.encode())
        items: builtins.list[KeyValue] = []
        while True:
            page = RANGE_PAGE if not limit else min(RANGE_PAGE, limit - len(items))
            resp = await self._call("Range", rpc.RangeRequest(key=start, range_end=end, limit=page,
                                                              revision=revision))
            revision = revision or int(resp.header.revision)  # later pages read the same snapshot
            items.extend(_kv(kv) for kv in resp.kvs)
            if not resp.more:
                return ListResult(items, revision, False)
            if limit and len(items) >= limit:
                return ListResult(items, revision, True)
            start = resp.kvs[-1].key + b"\x00"

    async def current_revision(self) -> int:
        resp = await self._call("Range", rpc.RangeRequest(key=b"/registry/", range_end=_end(b"/registry/"),
                                                          count_only=True))
        return int(resp.header.revision)

    # --- writes --------------------------------------------------------------------------------

    def _compare(self, key: bytes, target: str, value: int) -> Any:
        compare = rpc.Compare(key=key, result=rpc.Compare.EQUAL)
        if target == "create":
            compare.target = rpc.Compare.CREATE
            compare.create_revision = value
        else:
            compare.target = rpc.Compare.MOD
            compare.mod_revision = value
        return compare

    async def _txn(self, compare: builtins.list[Any], success: builtins.list[Any], key: bytes) -> Any:
        failure = [rpc.RequestOp(request_range=rpc.RangeRequest(key=key))]
        return await self._call("Txn", rpc.TxnRequest(compare=compare, success=success, failure=failure))

    @staticmethod
    def _current(resp: Any) -> KeyValue | None:
        kvs = resp.responses[0].response_range.kvs if resp.responses else []
        return _kv(kvs[0]) if kvs else None

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = key.encode()
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))
        resp = await self._txn([self._compare(k, "create", 0)], [put], k)
        if not resp.succeeded:
            raise KeyExists(key)
        rev = int(resp.header.revision)
        return KeyValue(key, value, rev, rev)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        k = key.encode()
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value, prev_kv=True))
        resp = await self._txn([self._compare(k, "mod", expected_revision)], [put], k)
        if not resp.succeeded:
            current = self._current(resp)
            if current is None:
                raise KeyNotFound(key)
            raise RevisionMismatch(key, current)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, value, int(prev.create_revision), int(resp.header.revision))

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        k = key.encode()
        delete = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))
        compare = [self._compare(k, "mod", expected_revision)] if expected_revision else []
        resp = await self._txn(compare, [delete], k)
        if not resp.succeeded:
            current = self._current(resp)
            if current is None:
                raise KeyNotFound(key)
            raise RevisionMismatch(key, current)
        deleted = resp.responses[0].response_delete_range
        if not deleted.prev_kvs:
            raise KeyNotFound(key)
        prev = deleted.prev_kvs[0]
        return KeyValue(key, bytes(prev.value), int(prev.create_revision), int(resp.header.revision))

    async def compact(self, revision: int) -> None:
        stub = await self._stub()
        try:
            await stub.Compact(rpc.CompactionRequest(revision=revision), timeout=RPC_TIMEOUT,
                               metadata=self._client.metadata)
        except grpc.aio.AioRpcError as exc:
            if "compacted" not in (exc.details() or ""):
                raise Unavailable(f"etcd at {self.endpoint}: compaction failed: {exc.details()}") from None

    async def compact_round(self, expected_version: int, revision: int) -> tuple[int, int]:
        """One step of kube-apiserver's compactor: if nobody else compacted since our last step
        (the version of COMPACT_REV_KEY is still `expected_version`), claim this interval and compact
        to `revision`, the revision seen one interval ago.  Returns (version, current revision) for
        the next step.  Revision 0 (the first step) only records where history starts."""
        compare = rpc.Compare(key=COMPACT_REV_KEY, result=rpc.Compare.EQUAL, target=rpc.Compare.VERSION,
                              version=expected_version)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=COMPACT_REV_KEY, value=str(revision).encode()))
        get = rpc.RequestOp(request_range=rpc.RangeRequest(key=COMPACT_REV_KEY))
        resp = await self._call("Txn", rpc.TxnRequest(compare=[compare], success=[put], failure=[get]))
        current = int(resp.header.revision)
        if not resp.succeeded:  # another apiserver compacted in this interval: follow its clock
            kvs = resp.responses[0].response_range.kvs
            return (int(kvs[0].version), current) if kvs else (0, current)
        if revision:
            await self.compact(revision)
            self.compacted_revision = revision
            log.info("etcd: compacted to revision %d (%s)", revision, self.endpoint)
        return expected_version + 1, current

    async def _compact_forever(self) -> None:
        version, revision = 0, 0
        while True:
            await asyncio.sleep(self.compaction_interval)
            try:
                version, revision = await self.compact_round(version, revision)
            except StoreError as exc:
                log.warning("etcd: compaction at %s failed: %s; trying again in %.0f s", self.endpoint, exc,
                            self.compaction_interval)
            self.compaction_rounds += 1
            changed = self._compaction_signal()
            async with changed:
                changed.notify_all()

    def _compaction_signal(self) -> asyncio.Condition:
        if self._compaction_changed is None:
            self._compaction_changed = asyncio.Condition()
        return self._compaction_changed

    async def wait_for_compaction_rounds(self, rounds: int) -> None:
        """Until the compactor has run `rounds` times (tests wait on this instead of sleeping)."""
        changed = self._compaction_signal()
        async with changed:
            await changed.wait_for(lambda: self.compaction_rounds >= rounds)

    # --- watch ---------------------------------------------------------------------------------

    async def watch(self, prefix: str, *, start_revision: int = 0,
                    started: asyncio.Event | None = None) -> AsyncIterator[WatchEvent]:
        if not start_revision:
            start_revision = await self.current_revision() + 1
        if started is not None:
            started.set()  # etcd replays from start_revision: nothing after it can be missed
        next_rev = start_revision
        delay = 0.1
        while True:
            try:
                await self._client.connect()
                watch = await self._client.watch(prefix.encode(), range_end=_end(prefix.encode()),
                                                 start_revision=next_rev, prev_kv=True)
            except aex.RevisionCompactedError as exc:
                raise Expired(next_rev, exc.compacted_revision) from None
            except _RETRYABLE as exc:
                log.warning("%s: etcd watch from %d failed (%s); retrying", prefix, next_rev, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            try:
                async for ev in watch:
                    delay = 0.1
                    kv = KeyValue(ev.kv.key.decode(), bytes(ev.kv.value), int(ev.kv.create_revision),
                                  int(ev.kv.mod_revision))
                    prev = None
                    if ev.prev_kv is not None and ev.prev_kv.create_revision:  # empty on a create
                        p = ev.prev_kv
                        prev = KeyValue(p.key.decode(), bytes(p.value), int(p.create_revision), int(p.mod_revision))
                    if ev.kind == "DELETE":
                        if prev is None:
                            continue  # the deleted value was compacted away: nothing to report it with
                        kv = KeyValue(kv.key, prev.value, prev.create_revision, kv.mod_revision)
                        event = WatchEvent("DELETE", kv, prev)
                    else:
                        event = WatchEvent("PUT", kv, prev)
                    next_rev = kv.mod_revision + 1
                    yield event
            except aex.RevisionCompactedError as exc:
                raise Expired(next_rev, exc.compacted_revision) from None
            except _RETRYABLE as exc:
                log.info("%s: etcd watch interrupted (%s); resuming from revision %d", prefix, exc, next_rev)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            finally:
                try:
                    await watch.cancel()
                except Exception:  # noqa: BLE001 - the stream may already be gone
                    pass

    async def close(self) -> None:
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        await self._client.close()
