"""Events expire, as in Kubernetes (`--event-ttl`, one hour by default): the apiserver deletes
core/v1 and events.k8s.io Events whose last occurrence is older than the TTL, in a sweep every
few minutes.  Without it a busy cluster's store fills with events nobody will read (a 30,000-pod
rollout writes 30,000 "Scheduled" events).  Deletions go through the store, so watchers see them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import orjson

from ..api.times import parse_time
from ..store.base import KeyNotFound, RevisionMismatch, Store

log = logging.getLogger("minikube_py.apiserver.events")
PREFIXES = ("/registry/events/", "/registry/events.k8s.io/")
DEFAULT_TTL = 3600.0
SWEEP_EVERY = 300.0


def _last_seen(event: dict[str, object]) -> float | None:
    """The first readable of the event's times, newest kind first (stored objects may be anything)."""
    meta = event.get("metadata")
    candidates = [event.get("lastTimestamp"), event.get("eventTime"), event.get("deprecatedLastTimestamp"),
                  (meta or {}).get("creationTimestamp") if isinstance(meta, dict) else None]
    for value in candidates:
        seen = parse_time(value) if isinstance(value, str) and len(value) >= 19 else None
        if seen is not None:
            return seen
    return None


async def expire_events(store: Store, ttl: float, *, now: float | None = None) -> int:
    """Delete the events older than `ttl` seconds; returns how many went."""
    now = datetime.now(UTC).timestamp() if now is None else now
    removed = 0
    for prefix in PREFIXES:
        start_after = ""
        while True:
            page = await store.list(prefix, limit=1000, start_after=start_after)
            for kv in page.items:
                try:
                    seen = _last_seen(orjson.loads(kv.value))
                except orjson.JSONDecodeError:
                    continue
                if seen is not None and now - seen > ttl:
                    try:
                        await store.delete(kv.key, expected_revision=kv.mod_revision)
                        removed += 1
                    except (KeyNotFound, RevisionMismatch):
                        pass  # changed (a repeat bumped it) or gone meanwhile
            if not page.more or not page.items:
                break
            start_after = page.items[-1].key
            await asyncio.sleep(0)  # other requests first
    return removed


async def sweep_forever(store: Store, ttl: float = DEFAULT_TTL, every: float = SWEEP_EVERY) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            removed = await expire_events(store, ttl)
            if removed:
                log.info("events: %d older than %ds expired", removed, int(ttl))
        except Exception as exc:  # noqa: BLE001 - try again next sweep
            log.warning("events: expiry sweep failed: %s", exc)
