"""The etcd store: Kubernetes' own layout (`/registry/<resource>/<namespace>/<name>`) through aetcd.

Only the apiserver uses it (through the Store protocol in base.py), when started with
`--store etcd://HOST:PORT[,HOST:PORT...]`.  Creates, updates and deletes are transactions guarded
on create_revision / mod_revision, so optimistic concurrency is etcd's own.  aetcd's high-level
calls lack range limits and revisions, so ranges and transactions go through its gRPC stubs.
A watch survives an etcd restart: when aetcd ends it with a connection error, it is re-created
from the last delivered revision + 1, so no event is lost or repeated.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncIterator
from typing import Any

import aetcd
from aetcd import exceptions as aex
from aetcd import rpc

from .base import (
    Expired,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    Unavailable,
    WatchEvent,
)

log = logging.getLogger("minikube_py.store.etcd")
RANGE_PAGE = 500  # keys per etcd Range call: a page of large pods stays far below 4 MiB
MAX_REPLY_BYTES = 1 << 30
RPC_TIMEOUT = 10
_RETRYABLE = (aex.ConnectionFailedError, aex.ConnectionTimeoutError, aex.InternalError, aex.WatchTimeoutError)


def _end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)


def _kv(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode(), bytes(kv.value), int(kv.create_revision), int(kv.mod_revision))


class EtcdStore:
    def __init__(self, endpoints: list[str]) -> None:
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = endpoints
        self._index = 0
        self._client = self._new_client()
        self._lock = asyncio.Lock()

    def _new_client(self) -> aetcd.Client:
        host, _, port = self.endpoints[self._index].rpartition(":")
        # a page of RANGE_PAGE objects of up to 1.5 MiB each (etcd's value limit) must still fit one reply
        options = {"grpc.max_receive_message_length": MAX_REPLY_BYTES}
        return aetcd.Client(host=host, port=int(port), timeout=RPC_TIMEOUT, options=options)

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._index]

    async def _stub(self) -> Any:
        try:
            await self._client.connect()
        except _RETRYABLE as exc:
            raise Unavailable(f"etcd at {self.endpoint}: {exc}") from None
        return self._client.kvstub

    async def _call(self, method: str, request: Any) -> Any:
        """One unary KV call; connection failures rotate to the next endpoint and become Unavailable."""
        stub = await self._stub()
        try:
            return await getattr(stub, method)(request, timeout=RPC_TIMEOUT, metadata=self._client.metadata)
        except rpc.AioRpcError as exc:
            try:
                aex._handle_exception(exc)
            except aex.RevisionCompactedError as compacted:
                raise Expired(getattr(request, "revision", 0), compacted.compacted_revision) from None
            except _RETRYABLE as err:
                await self._rotate()
                raise Unavailable(f"etcd at {self.endpoint}: {err}") from None
            raise

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
        except rpc.AioRpcError as exc:
            if "compacted" not in str(exc):
                raise Unavailable(f"etcd at {self.endpoint}: compaction failed: {exc.details()}") from None

    # --- watch ---------------------------------------------------------------------------------

    async def watch(self, prefix: str, *, start_revision: int = 0) -> AsyncIterator[WatchEvent]:
        if not start_revision:
            start_revision = await self.current_revision() + 1
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
                delay = min(delay * 2, 2.0)
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
                delay = min(delay * 2, 2.0)
            finally:
                try:
                    await watch.cancel()
                except Exception:  # noqa: BLE001 - the stream may already be gone
                    pass

    async def close(self) -> None:
        await self._client.close()
