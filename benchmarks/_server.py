"""Start and stop a real `minikube-py server` (and etcd) for the benchmarks, without pytest.

The benchmarks run with what `pip install -e .` brings, so the launcher is the package's own
(minikube_py/cli/launch.py, which the tests' fixtures use too); this adds the throw-away
contexts the benchmarks want.  Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from minikube_py.cli.launch import (
    EtcdProcess,
    RunningServer,
    free_port,
    start_hollow_nodes,
    start_server,
    stop_server,
)

__all__ = ["RunningServer", "etcd", "free_port", "server", "start_hollow_nodes", "start_server", "stop_server"]


@contextlib.contextmanager
def etcd() -> Iterator[str]:
    """A throw-away etcd on loopback; yields HOST:PORT."""
    data = Path(tempfile.mkdtemp(prefix="bench-etcd-"))
    proc = EtcdProcess(data, quota_bytes=4 << 30)
    proc.start()
    try:
        yield proc.endpoint
    finally:
        proc.stop()
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def server(store: str, *, extra: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    """A running `minikube-py server` (API only) on 'sqlite' or 'etcd' (which starts its own etcd)."""
    data = Path(tempfile.mkdtemp(prefix=f"bench-{store}-"))
    with contextlib.ExitStack() as stack:
        url = "sqlite" if store == "sqlite" else "etcd://" + stack.enter_context(etcd())
        srv = start_server(data, url, extra=extra)
        try:
            yield srv
        finally:
            stop_server(srv.process)
            shutil.rmtree(data, ignore_errors=True)
