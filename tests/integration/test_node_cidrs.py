"""Nodes as the control plane sees them over time, on a real master with hollow nodes, read with
the official Python client: 30 nodes registering at once get 30 distinct podCIDRs, new nodes
still get fresh ones after the master restarts on the same data, and under `--timing fast` the
nodes' default lease renewal (2 s) keeps every one Ready, untainted, for 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.fixtures.server import free_port, start_hollow_nodes, start_server, stop_server
from tests.fixtures.waiting import wait_for as _wait_for

pytestmark = pytest.mark.slow


def _core(kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def _cidrs(core: client.CoreV1Api, prefix: str, count: int) -> dict[str, str] | None:
    nodes = [n for n in core.list_node().items if n.metadata.name.startswith(prefix + "-")]
    got = {n.metadata.name: n.spec.pod_cidr for n in nodes if n.spec.pod_cidr}
    return got if len(got) == count else None


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A fast-timing master; calling the fixture's value restarts it on the same data and port."""
    port = free_port()
    data = tmp_path / "master"
    running = [start_server(data, "sqlite", port=port, control_plane=True, extra=("--timing", "fast"))]

    def restart() -> Any:
        stop_server(running[0].process)
        running[0] = start_server(data, "sqlite", port=port, control_plane=True, extra=("--timing", "fast"))
        return running[0]

    restart.server = running  # type: ignore[attr-defined]
    try:
        yield restart
    finally:
        stop_server(running[0].process)


def test_thirty_nodes_at_once_get_distinct_cidrs_and_fresh_ones_after_a_restart(master: Any) -> None:
    server = master.server[0]
    core = _core(server.kubeconfig)
    first = start_hollow_nodes(server, 30, prefix="burst", timeout=60)
    later = None
    try:
        before = _wait_for("30 podCIDRs", lambda: _cidrs(core, "burst", 30))
        assert len(set(before.values())) == 30, before
        assert all(c.startswith("10.244.") and c.endswith(".0/24") for c in before.values())
        for n in core.list_node().items:
            assert n.spec.pod_cidrs == [n.spec.pod_cidr]

        master()  # the master restarts on the same store; the nodes keep running
        later = start_hollow_nodes(server, 5, prefix="later", timeout=60)
        after = _wait_for("5 podCIDRs after the restart", lambda: _cidrs(core, "later", 5))
        assert len(set(after.values())) == 5
        assert not set(after.values()) & set(before.values()), (before, after)
        assert _cidrs(core, "burst", 30) == before  # nothing reassigned
    finally:
        stop_server(first)
        if later is not None:
            stop_server(later)


def test_under_fast_timing_hollow_nodes_stay_ready_for_30_seconds(master: Any) -> None:
    server = master.server[0]
    core = _core(server.kubeconfig)
    nodes = start_hollow_nodes(server, 5, prefix="steady", timeout=60)  # no --lease-renew: the profile's 2 s
    try:
        def ready() -> dict[str, str]:
            out = {}
            for n in core.list_node().items:
                cond = next(c for c in n.status.conditions if c.type == "Ready")
                taints = [t.key for t in n.spec.taints or []]
                out[n.metadata.name] = cond.status if not taints else f"{cond.status} {taints}"
            return out

        _wait_for("5 Ready nodes", lambda: len(ready()) == 5 and set(ready().values()) == {"True"})
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # three grace periods of the fast profile (10 s)
            seen |= set(ready().values())
            time.sleep(0.5)
        assert seen == {"True"}
        lease = client.CoordinationV1Api(core.api_client).read_namespaced_lease("steady-0", "kube-node-lease")
        assert lease.spec.lease_duration_seconds == 8
    finally:
        stop_server(nodes)
