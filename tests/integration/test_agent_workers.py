"""Pods that take their whole grace period to stop never stall the node: on the real Docker engine,
four pods whose PID 1 ignores SIGTERM are deleted, and a new pod starts and runs while they wait
out their grace period; then they are killed and gone.

Same cluster shape as tests/integration/test_agent.py (its fixtures, imported): a control plane with
--timing fast and one `minikube-py agent`; teardown removes only what carries this agent's label.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("docker")

from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, _running, wait_for  # noqa: E402

agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client

GRACE = 15


def _pod(name: str, grace: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": grace,
                     # sleep as PID 1 has no SIGTERM handler: the kernel ignores the signal
                     "containers": [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]}}


def test_pods_waiting_out_their_grace_period_never_delay_another_pods_start(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    stubborn = [f"stubborn{i}" for i in range(4)]
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                    "items": [_pod(n, GRACE) for n in stubborn]}))
    for name in stubborn:
        wait_for(f"{name} Running", lambda name=name: _running(c, name), timeout=60)
    c.kubectl("delete", "pod", *stubborn, "--wait=false")
    began = time.monotonic()
    c.kubectl("apply", "-f", "-", input=json.dumps(_pod("newcomer", 2)))
    wait_for("newcomer Running", lambda: _running(c, "newcomer"), timeout=GRACE - 3)
    started_in = time.monotonic() - began
    left = {p["metadata"]["name"] for p in c.get("pods")["items"]}
    assert set(stubborn) <= left, f"the stubborn pods should still wait out their grace period: {left}"
    assert started_in < GRACE - 3, started_in

    def gone() -> bool:
        names = {p["metadata"]["name"] for p in c.get("pods")["items"]}
        return not names & set(stubborn)
    wait_for("the stubborn pods killed after their grace period and gone", gone, timeout=GRACE + 30)
    assert time.monotonic() - began >= GRACE - 1  # SIGTERM did not stop them: the grace period ran out
    c.kubectl("delete", "pod", "newcomer", "--wait=false")
