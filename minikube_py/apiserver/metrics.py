"""Prometheus metrics of the apiserver, served at /metrics.

Names follow kube-apiserver's where one exists (apiserver_request_total,
apiserver_request_duration_seconds, apiserver_longrunning_requests, etcd_request_duration_seconds)
so that dashboards written for Kubernetes read them.  A private registry keeps tests that
build several apps in one process from colliding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..store.base import KeyValue, ListResult, Store, WatchEvent

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("apiserver_request_total", "Requests by verb, resource and HTTP code.",
                   ["verb", "resource", "subresource", "code"], registry=REGISTRY)
LATENCY = Histogram("apiserver_request_duration_seconds", "Request latency by verb and resource.",
                    ["verb", "resource"], registry=REGISTRY,
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
WATCHERS = Gauge("apiserver_registered_watchers", "Open watches by resource.", ["resource"], registry=REGISTRY)
WATCH_EVENTS = Counter("apiserver_watch_events_total", "Watch events sent by resource.", ["resource"],
                       registry=REGISTRY)
TERMINATED_WATCHERS = Counter("apiserver_terminated_watchers_total",
                              "Watches closed by the server because the client fell behind, by resource and reason "
                              "(queue_full: too many events or bytes waiting; blocked: the client read nothing within "
                              "the write time budget).", ["resource", "reason"], registry=REGISTRY)
STORE_LATENCY = Histogram("etcd_request_duration_seconds", "Store operation latency by operation.",
                          ["operation"], registry=REGISTRY,
                          buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1))


def exposition() -> bytes:
    return generate_latest(REGISTRY)


class MeteredStore:
    """Wraps a Store and records the latency of every operation."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self._h = {op: STORE_LATENCY.labels(op) for op in ("create", "get", "list", "update", "delete")}

    async def create(self, key: str, value: bytes) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.create(key, value)
        finally:
            self._h["create"].observe(time.perf_counter() - t)

    async def get(self, key: str) -> KeyValue | None:
        t = time.perf_counter()
        try:
            return await self.inner.get(key)
        finally:
            self._h["get"].observe(time.perf_counter() - t)

    async def list(self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0) -> ListResult:
        t = time.perf_counter()
        try:
            return await self.inner.list(prefix, limit=limit, start_after=start_after, revision=revision)
        finally:
            self._h["list"].observe(time.perf_counter() - t)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.update(key, value, expected_revision=expected_revision)
        finally:
            self._h["update"].observe(time.perf_counter() - t)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        t = time.perf_counter()
        try:
            return await self.inner.delete(key, expected_revision=expected_revision)
        finally:
            self._h["delete"].observe(time.perf_counter() - t)

    def watch(self, prefix: str, *, start_revision: int = 0,
              started: asyncio.Event | None = None) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(prefix, start_revision=start_revision, started=started)

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
