"""The embedded store: one sqlite file with etcd's semantics, the default of `minikube-py server`.

Only the apiserver uses it (through the Store protocol in base.py).  Design:
- WAL mode, synchronous=NORMAL: a crash loses at most the last transactions, never consistency.
- One global revision, persisted in the `meta` table, bumped by every write and never reused.
- The `events` table keeps a bounded window of history (type, key, value, previous value), by
  count and by bytes, so a watch can resume from an older revision; older than the window is
  `Expired`.  A watch replays that history in pages, never all of it in memory at once.
- Statements are sub-millisecond, so they run on the event loop: no thread hop per request, and
  a write and the fan-out of its event to live watchers happen in one step, which gives every
  watcher exactly-once, in-order delivery without locks.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from .base import (
    Expired,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionMismatch,
    WatchEvent,
)

DEFAULT_HISTORY = 20_000  # revisions of history kept for watches
DEFAULT_HISTORY_BYTES = 256 << 20  # ... and at most this many bytes of values in it
MAX_BACKLOG = 20_000  # events queued for one slow store watcher before it is expired (bounds memory)
MAX_BACKLOG_BYTES = 64 << 20  # ... and bytes of values queued for it
HISTORY_PAGE = 256  # history rows read per query when a watch replays

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
                               mod_rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (rev INTEGER PRIMARY KEY, type TEXT NOT NULL, key TEXT NOT NULL,
                                   value BLOB NOT NULL, create_rev INTEGER NOT NULL, prev_value BLOB,
                                   prev_create_rev INTEGER, prev_mod_rev INTEGER);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"


def _size(event: WatchEvent) -> int:
    return len(event.kv.value) + (len(event.prev.value) if event.prev else 0)


@dataclass(eq=False)
class _Subscriber:
    prefix: str
    queue: asyncio.Queue[WatchEvent] = field(default_factory=asyncio.Queue)
    queued_bytes: int = 0
    overflowed: bool = False


class SqliteStore:
    def __init__(self, path: Path, *, history: int = DEFAULT_HISTORY,
                 history_bytes: int = DEFAULT_HISTORY_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.history = history
        self.history_bytes = history_bytes
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
        self._rev = int(row[0]) if row else 1
        row = self._db.execute("SELECT value FROM meta WHERE name='compacted'").fetchone()
        self._compacted = int(row[0]) if row else 0
        self._subs: list[_Subscriber] = []
        # (revision, bytes) of every history row, oldest first: trimming by count and bytes needs no scan
        self._sizes: collections.deque[tuple[int, int]] = collections.deque(self._db.execute(
            "SELECT rev, length(value) + coalesce(length(prev_value), 0) FROM events ORDER BY rev"))
        self._history_total = sum(size for _, size in self._sizes)

    # --- writes --------------------------------------------------------------------------------

    def _commit(self, event: WatchEvent, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                db.execute(sql, args)
            prev = event.prev
            db.execute(
                "INSERT INTO events VALUES (?,?,?,?,?,?,?,?)",
                (event.revision, event.type, event.kv.key, event.kv.value, event.kv.create_revision,
                 prev.value if prev else None, prev.create_revision if prev else None,
                 prev.mod_revision if prev else None),
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (event.revision,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._rev = event.revision
        size = _size(event)
        self._sizes.append((event.revision, size))
        self._history_total += size
        self._trim_history()
        self._publish(event, size)

    def _trim_history(self) -> None:
        """Keep at most `history` rows and `history_bytes`; delete in batches (a 5% slack)."""
        slack = max(1, self.history // 20)
        if len(self._sizes) <= self.history + slack and self._history_total <= self.history_bytes * 1.05:
            return
        last = 0
        while self._sizes and (len(self._sizes) > self.history or self._history_total > self.history_bytes):
            last, size = self._sizes.popleft()
            self._history_total -= size
        if last:
            self._db.execute("DELETE FROM events WHERE rev <= ?", (last,))

    def _publish(self, event: WatchEvent, size: int) -> None:
        key = event.kv.key
        for sub in self._subs:
            if key.startswith(sub.prefix) and not sub.overflowed:
                if sub.queue.qsize() >= MAX_BACKLOG or sub.queued_bytes + size > MAX_BACKLOG_BYTES:
                    sub.overflowed = True
                sub.queued_bytes += size
                sub.queue.put_nowait(event)

    def _get(self, key: str) -> KeyValue | None:
        row = self._db.execute("SELECT value, create_rev, mod_rev FROM kv WHERE key=?", (key,)).fetchone()
        return KeyValue(key, row[0], row[1], row[2]) if row else None

    async def create(self, key: str, value: bytes) -> KeyValue:
        if self._get(key) is not None:
            raise KeyExists(key)
        rev = self._rev + 1
        kv = KeyValue(key, value, rev, rev)
        self._commit(WatchEvent("PUT", kv, None), [("INSERT INTO kv VALUES (?,?,?,?)", (key, value, rev, rev))])
        return kv

    async def get(self, key: str) -> KeyValue | None:
        return self._get(key)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        cur = self._get(key)
        if cur is None:
            raise KeyNotFound(key)
        if cur.mod_revision != expected_revision:
            raise RevisionMismatch(key, cur)
        rev = self._rev + 1
        kv = KeyValue(key, value, cur.create_revision, rev)
        self._commit(WatchEvent("PUT", kv, cur), [("UPDATE kv SET value=?, mod_rev=? WHERE key=?", (value, rev, key))])
        return kv

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        cur = self._get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expected_revision and cur.mod_revision != expected_revision:
            raise RevisionMismatch(key, cur)
        rev = self._rev + 1
        kv = KeyValue(key, cur.value, cur.create_revision, rev)
        self._commit(WatchEvent("DELETE", kv, cur), [("DELETE FROM kv WHERE key=?", (key,))])
        return kv

    # --- reads ---------------------------------------------------------------------------------

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0) -> ListResult:
        """Keys under prefix, now or at an older revision still inside the watch-history window."""
        lower, op = (start_after, ">") if start_after and start_after >= prefix else (prefix, ">=")
        if revision > self._rev:
            raise FutureRevision(revision, self._rev)
        if revision and revision < self._rev:
            return self._list_at(prefix, lower, op, limit, revision)
        sql = f"SELECT key, value, create_rev, mod_rev FROM kv WHERE key {op} ? AND key < ? ORDER BY key"
        args: tuple[object, ...] = (lower, prefix_end(prefix))
        if limit > 0:
            sql += " LIMIT ?"
            args += (limit + 1,)
        rows = self._db.execute(sql, args).fetchall()
        more = limit > 0 and len(rows) > limit
        if more:
            rows = rows[:limit]
        return ListResult([KeyValue(r[0], r[1], r[2], r[3]) for r in rows], self._rev, more)

    def _list_at(self, prefix: str, lower: str, op: str, limit: int, revision: int) -> ListResult:
        """The state at `revision`: today's rows with every later change undone from the history."""
        oldest = self._oldest()
        # history from `oldest` on can undo changes back to oldest - 1; a compaction (as etcd's)
        # keeps exactly its own revision readable
        if revision < oldest - 1 or revision < self._compacted:
            raise Expired(revision, oldest)
        end = prefix_end(prefix)
        state = {r[0]: KeyValue(r[0], r[1], r[2], r[3]) for r in self._db.execute(
            f"SELECT key, value, create_rev, mod_rev FROM kv WHERE key {op} ? AND key < ?", (lower, end))}
        later = self._db.execute(
            f"SELECT key, prev_value, prev_create_rev, prev_mod_rev FROM events WHERE rev > ? AND key {op} ? "
            "AND key < ? ORDER BY rev DESC", (revision, lower, end))
        for key, prev_value, prev_create, prev_mod in later:
            if prev_value is None:
                state.pop(key, None)  # created after the revision
            else:
                state[key] = KeyValue(key, prev_value, prev_create, prev_mod)
        items = [state[k] for k in sorted(state)]
        more = limit > 0 and len(items) > limit
        return ListResult(items[:limit] if more else items, revision, more)

    async def current_revision(self) -> int:
        return self._rev

    def _oldest(self) -> int:
        row = self._db.execute("SELECT MIN(rev) FROM events").fetchone()
        oldest_event = int(row[0]) if row and row[0] is not None else self._rev + 1
        return max(self._compacted, min(oldest_event, self._rev + 1), 1)

    def _history_page(self, prefix: str, start: int, end: int) -> builtins.list[WatchEvent]:
        rows = self._db.execute(
            "SELECT rev, type, key, value, create_rev, prev_value, prev_create_rev, prev_mod_rev FROM events "
            "WHERE rev >= ? AND rev <= ? AND key >= ? AND key < ? ORDER BY rev LIMIT ?",
            (start, end, prefix, prefix_end(prefix), HISTORY_PAGE),
        ).fetchall()
        out = []
        for rev, type_, key, value, create_rev, pv, pcr, pmr in rows:
            prev = KeyValue(key, pv, pcr, pmr) if pv is not None else None
            out.append(WatchEvent(type_, KeyValue(key, value, create_rev, rev), prev))
        return out

    async def watch(self, prefix: str, *, start_revision: int = 0,
                    started: asyncio.Event | None = None) -> AsyncIterator[WatchEvent]:
        # Subscribe before reading any history, without awaiting in between: the history covers
        # revisions up to `now`, the subscription everything after, so nothing is missed or repeated.
        now = self._rev
        if start_revision and start_revision <= now:
            oldest = self._oldest()
            if start_revision < oldest:
                raise Expired(start_revision, oldest)
        sub = _Subscriber(prefix)
        self._subs.append(sub)
        if started is not None:
            started.set()
        try:
            next_rev = start_revision
            while start_revision and next_rev <= now:
                oldest = self._oldest()
                if next_rev < oldest:  # trimmed while this watch was replaying it
                    raise Expired(next_rev, oldest)
                page = self._history_page(prefix, next_rev, now)
                if not page:
                    break
                for ev in page:
                    yield ev
                next_rev = page[-1].revision + 1
            first_live = max(start_revision, now + 1)
            while True:
                ev = await sub.queue.get()
                sub.queued_bytes -= _size(ev)
                if sub.overflowed:
                    raise Expired(ev.revision, ev.revision + 1)
                if ev.revision >= first_live:
                    yield ev
        finally:
            if sub in self._subs:
                self._subs.remove(sub)

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._rev)
        if revision <= self._compacted:
            return
        self._compacted = revision
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM events WHERE rev < ?", (revision,))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('compacted', ?)", (revision,))
        self._db.execute("COMMIT")
        while self._sizes and self._sizes[0][0] < revision:
            self._history_total -= self._sizes.popleft()[1]

    async def close(self) -> None:
        self._subs.clear()
        self._db.close()
