"""Watch events as watchers see them: a store event decoded once, translated per selector, and
encoded once per representation, the bytes shared by every watcher that wants the same.

Used by broadcast.py (the fan-out) and watch.py (initial events, bookmarks, errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..store.base import KeyValue, WatchEvent
from . import tables
from .registry import decode

Obj = dict[str, Any]


class Encoder:
    """One watcher's representation (object, Table, PartialObjectMetadata) of watch events."""

    def __init__(self, info: Any, rep: tables.Representation, include_object: str) -> None:
        self.info = info
        self.rep = rep
        self.include_object = include_object
        self.columns_sent = False

    @property
    def key(self) -> tuple[str, str, str, str, bool]:
        """Watchers with equal keys get byte-identical events: the cache key of an encoding."""
        return (self.info.api_version, self.rep.kind, self.rep.version, self.include_object,
                self.rep.kind == "Table" and not self.columns_sent)

    def event(self, type_: str, obj: Obj) -> bytes:
        """`obj` as stored; a kind stored as another kind shows its own view of it."""
        rep = self.rep
        if type_ not in ("BOOKMARK", "ERROR"):
            obj = self.info.from_storage(obj)
        if type_ in ("BOOKMARK", "ERROR") or rep.kind == "":
            out = obj
        elif rep.kind == "Table":
            out = tables.table(self.info, [obj], rep, include_object=self.include_object,
                               with_columns=not self.columns_sent,
                               list_meta={"resourceVersion": obj["metadata"].get("resourceVersion")})
            self.columns_sent = True
        else:
            out = tables.partial(obj, rep)
        return orjson.dumps({"type": type_, "object": out}) + b"\n"

    def bookmark(self, revision: int, *, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.info.kind, "apiVersion": self.info.api_version, "metadata": meta}
        return self.event("BOOKMARK", obj)


class CachedEvent:
    """A store event with its decoded objects and its encodings, shared by every watcher."""

    __slots__ = ("event", "revision", "key", "size", "_obj", "_prev", "_encoded")

    def __init__(self, event: WatchEvent) -> None:
        self.event = event
        self.revision = event.revision
        self.key = event.kv.key
        self.size = len(event.kv.value) + (len(event.prev.value) if event.prev else 0)
        self._obj: Obj | None = None
        self._prev: Obj | None = None
        self._encoded: dict[tuple[Any, ...], bytes] = {}

    @property
    def obj(self) -> Obj:
        if self._obj is None:
            self._obj = decode(self.event.kv)
        return self._obj

    @property
    def prev(self) -> Obj | None:
        """The object before the change, stamped with this event's resourceVersion (what a watcher
        whose selector stopped matching gets in its DELETED event, as from kube-apiserver)."""
        if self._prev is None and self.event.prev is not None:
            p = self.event.prev
            self._prev = decode(KeyValue(p.key, p.value, p.create_revision, self.revision))
        return self._prev

    def translate(self, match: Callable[[Obj], bool] | None) -> tuple[str, bool] | None:
        """(event type, whether the object is the previous one) for a watcher, None if not for it."""
        ev = self.event
        if match is None:
            if ev.type == "DELETE":
                return "DELETED", False
            return ("ADDED" if ev.is_create else "MODIFIED"), False
        if ev.type == "DELETE":
            return ("DELETED", False) if match(self.obj) else None
        now_ok = match(self.obj)
        prev = self.prev
        before_ok = prev is not None and match(prev)
        if now_ok:
            return ("MODIFIED" if before_ok else "ADDED"), False
        return ("DELETED", True) if before_ok else None

    def encoded(self, type_: str, previous: bool, enc: Encoder) -> bytes:
        key = (type_, previous, *enc.key)
        data = self._encoded.get(key)
        if data is None:
            obj = self.prev if previous else self.obj
            assert obj is not None
            data = self._encoded[key] = enc.event(type_, obj)
        elif key[-1]:  # a Table's first event, with the columns: the next ones go without
            enc.columns_sent = True
        return data

    @property
    def cost(self) -> int:
        """Approximate memory held: raw values, decoded objects (about twice the JSON), encodings."""
        return 3 * self.size + sum(len(b) for b in self._encoded.values())
