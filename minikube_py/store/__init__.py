"""Stores with etcd's semantics: the embedded sqlite default and etcd itself (see base.py)."""

from __future__ import annotations

from pathlib import Path

from .base import Store


def open_store(url: str, data_dir: Path, *, compaction_interval: float = 300.0) -> Store:
    """`sqlite` -> <data_dir>/state.db; `etcd://host:port[,host:port...]` -> an etcd cluster, compacted
    every `compaction_interval` seconds (0: never), as kube-apiserver compacts it."""
    if url == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(data_dir / "state.db")
    if url.startswith("etcd://"):
        from .etcd import EtcdStore

        endpoints = [e for e in url[len("etcd://"):].split(",") if e]
        return EtcdStore(endpoints, compaction_interval=compaction_interval)
    raise ValueError(f"unknown store {url!r}: use 'sqlite' or etcd://HOST:PORT[,HOST:PORT...]")
