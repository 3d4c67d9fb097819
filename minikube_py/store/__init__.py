"""Stores with etcd's semantics: the embedded sqlite default and etcd itself (see base.py)."""

from __future__ import annotations

from pathlib import Path

from .base import Store


def open_store(url: str, data_dir: Path) -> Store:
    """`sqlite` -> <data_dir>/state.db; `etcd://host:port[,host:port...]` -> an etcd cluster."""
    if url == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(data_dir / "state.db")
    if url.startswith("etcd://"):
        from .etcd import EtcdStore

        endpoints = [e for e in url[len("etcd://"):].split(",") if e]
        return EtcdStore(endpoints)
    raise ValueError(f"unknown store {url!r}: use 'sqlite' or etcd://HOST:PORT[,HOST:PORT...]")
