"""The Store protocol: what the apiserver needs from a key-value store with revisions.

Two backends implement it (`sqlite.py`, the embedded default; `etcd.py`, through aetcd) and one
contract test suite (tests/unit/test_store_contract.py) runs against both.  Only the apiserver
imports a store.

Semantics (etcd's, which Kubernetes relies on):
- One global revision counter, bumped by every successful write (create, update, delete) and
  never reused, also across restarts.  `resourceVersion` of an object is its `mod_revision`.
- Values are opaque bytes (the apiserver stores JSON without resourceVersion).
- `update` and `delete` are guarded: `expected_revision` must equal the key's current
  `mod_revision` (0 on delete means unconditional), else `RevisionMismatch`.
- `watch(prefix, start_revision)` yields every change of a key under `prefix` with
  revision >= start_revision, in revision order, exactly once; start_revision 0 means "changes
  after now".  A start revision older than the history the store keeps raises `Expired` (the
  apiserver answers 410).  A DELETE event carries the deleted value and the delete revision.
- `list(revision=R)` reads the state at exactly R: `Expired` if R was compacted, `FutureRevision`
  if R is newer than the store.
- A failed call raises `Unavailable` when the request never reached the store (safe to retry) and
  `OutcomeUnknown` when it may have been applied (the apiserver answers 504, as kube-apiserver
  does when a write to etcd times out).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["PUT", "DELETE"]
    kv: KeyValue  # on DELETE: the last value, with mod_revision = the delete's revision
    prev: KeyValue | None  # the value before this change (None on a create)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type == "PUT" and self.kv.create_revision == self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision the list was read at
    more: bool = False  # True when `limit` cut the list


class StoreError(Exception):
    """Base of the store's errors."""


class KeyExists(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatch(StoreError):
    """The guard of an update or delete failed; `current` is what the key holds now."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"revision mismatch: {key}")
        self.key = key
        self.current = current


class Expired(StoreError):
    """The requested revision is older than the history the store keeps."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class FutureRevision(StoreError):
    """A read at a revision the store has not reached yet."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current: {current})")
        self.requested = requested
        self.current = current


class Unavailable(StoreError):
    """The store could not be reached and the request was not sent (etcd down); the apiserver answers 503."""


class OutcomeUnknown(StoreError):
    """The request was sent but no answer came back (etcd died mid-request): it may have been applied."""


class Store(Protocol):
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Store a new key; `KeyExists` if present."""
        ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0) -> ListResult:
        """Keys under prefix in key order, after `start_after`, at most `limit` (0: all).

        `revision` > 0 asks for the state at exactly that revision (continuing a paginated list,
        resourceVersionMatch=Exact): `Expired` if it was compacted, `FutureRevision` if it is newer
        than the store.
        """
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """Replace the value if mod_revision == expected_revision; `KeyNotFound`, `RevisionMismatch`."""
        ...

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete; returns the deleted value with mod_revision = the delete's revision."""
        ...

    def watch(self, prefix: str, *, start_revision: int = 0,
              started: asyncio.Event | None = None) -> AsyncIterator[WatchEvent]:
        """Changes under prefix from start_revision on (see the module docstring).  `started` is set
        once the watch's first revision is fixed: from then on no change under prefix is missed
        (for a watch from 0, "now" is that moment)."""
        ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None:
        """Forget history older than revision; watches from before it get `Expired`."""
        ...

    async def close(self) -> None: ...
