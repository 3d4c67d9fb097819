"""etcd dies (kill -9) for 15 s under writes from 10 clients, then comes back on the same data.

- No acknowledged write is lost: every ConfigMap that got a 201 is there afterwards.
- While etcd is away the apiserver answers with a Status (503, or 504 for a write that may have
  happened), never a 500, and never hangs a client past its timeout.
- The apiserver serves again within 2 s of etcd serving again (its /health true: a restarted
  member listens about a second before it has elected itself leader).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from minikube_py.api.errors import AlreadyExists, ApiError, Timeout, Unreachable
from minikube_py.client.kubeconfig import KubeConfig
from minikube_py.client.rest import RestClient
from tests.fixtures.etcd import EtcdProcess
from tests.fixtures.server import start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.etcd]
WRITERS, OUTAGE = 10, 15.0


class Writer(threading.Thread):
    def __init__(self, index: int, kubeconfig: Path) -> None:
        super().__init__(daemon=True)
        self.index = index
        self.client = RestClient(KubeConfig.load(str(kubeconfig)).connection(), timeout=12)
        self.acked: list[str] = []
        self.maybe: list[str] = []  # answered 504: may or may not exist
        self.codes: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            name = f"w{self.index}-{n}"
            try:
                self.client.request("POST", "/api/v1/namespaces/default/configmaps",
                                    body={"metadata": {"name": name}, "data": {"n": str(n)}})
                self.acked.append(name)
                n += 1
            except AlreadyExists:  # an earlier 504 had in fact been applied
                self.acked.append(name)
                n += 1
            except ApiError as exc:
                self.codes[exc.code] = self.codes.get(exc.code, 0) + 1
                if isinstance(exc, Timeout):
                    self.maybe.append(name)  # retried under the same name: AlreadyExists tells
                if isinstance(exc, Unreachable):
                    self.client.close()
                time.sleep(0.1)


def _until_etcd_serves(endpoint: str, timeout: float = 30) -> None:
    """etcd's own /health says true (it has a leader and answers reads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{endpoint}/health", timeout=1) as resp:
                if json.loads(resp.read()).get("health") == "true":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"etcd at {endpoint} did not become healthy within {timeout} s")


def test_etcd_killed_for_15s_loses_no_acknowledged_write(etcd_process: EtcdProcess, tmp_path: Path) -> None:
    server = start_server(tmp_path / "master", f"etcd://{etcd_process.endpoint}")
    writers = [Writer(i, server.kubeconfig) for i in range(WRITERS)]
    probe = RestClient(KubeConfig.load(str(server.kubeconfig)).connection(), timeout=5)
    try:
        for w in writers:
            w.start()
        time.sleep(3)
        before = sum(len(w.acked) for w in writers)
        assert before > 50, "the writers did not get going"
        assert etcd_process.proc is not None
        etcd_process.proc.kill()  # kill -9: no goodbye to its clients
        etcd_process.proc.wait()
        time.sleep(OUTAGE)
        during = sum(len(w.acked) for w in writers) - before
        etcd_process.start()
        _until_etcd_serves(etcd_process.endpoint)  # listening is not serving: a restarted member elects itself first
        back = time.monotonic()
        while True:
            try:
                probe.request("GET", "/api/v1/namespaces/default/configmaps", params={"limit": "1"})
                break
            except ApiError:
                probe.close()
                if time.monotonic() - back > 30:
                    raise AssertionError("the apiserver did not serve again within 30 s of etcd coming back") \
                        from None
                time.sleep(0.05)
        serving_after = time.monotonic() - back
        time.sleep(3)  # writes go on after the outage
    finally:
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(timeout=20)
    try:
        listed = probe.get("/api/v1/namespaces/default/configmaps")["items"]
        names = {c["metadata"]["name"] for c in listed}
        acked = [name for w in writers for name in w.acked]
        lost = [name for name in acked if name not in names]
        codes: dict[int, int] = {}
        for w in writers:
            for code, n in w.codes.items():
                codes[code] = codes.get(code, 0) + n
        print(f"\nacked {len(acked)} ({during} during the outage); errors by code {codes}; "
              f"serving again {serving_after:.2f} s after etcd was healthy")
        assert not lost, f"{len(lost)} acknowledged writes lost: {lost[:10]}"
        assert codes and set(codes) <= {503, 504}, f"answers during the outage: {codes}"
        assert serving_after <= 2.0, f"the apiserver served again only {serving_after:.2f} s after etcd was back"
        assert len(acked) > before + during + 30, "the writers did not resume after the outage"
    finally:
        stop_server(server.process)
