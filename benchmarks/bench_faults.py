"""Target: a 200-replica Deployment rolled out, updated and undone with 20% of the control plane's
writes failing takes at most 3x as long as with none.

Each run is a fresh cluster: the API alone on sqlite, `minikube-py fault-proxy` in front of it,
the scheduler and the controller-manager (fast timings) behind the proxy, 4 hollow nodes talking
to the API directly.  The proxy fails the given fraction of writes before forwarding them (500,
503, 409, 429 with Retry-After), delays 5% of requests by up to 0.3 s and cuts every watch after
about 4 s.  The clock runs from the POST of the Deployment until the undo is available.  The
baseline is the same run with 0% faults (the proxy still in the path).  A last run fails 20% with
500/503/409 only: a 429 carries Retry-After: 1, which client-go and our client wait out, and that
second is on the critical path of every rollout step it hits.

    python -m benchmarks.bench_faults [--replicas 200] [--fractions 0,0.1,0.2] [--no-429-run]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._common import report
from benchmarks._server import start_hollow_nodes, start_server, stop_server
from minikube_py.client.kubeconfig import KubeConfig
from minikube_py.client.rest import RestClient

TARGET_RATIO = 3.0
ALL_CODES = "500,503,409,429"


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", *args], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


@contextlib.contextmanager
def faulty_cluster(fraction: float, codes: str = ALL_CODES) -> Iterator[tuple[RestClient, str]]:
    data = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    srv = start_server(data, "sqlite")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        faulty = data / "faulty.kubeconfig"
        procs.append(_spawn(["fault-proxy", "--kubeconfig", str(srv.kubeconfig), "--write-kubeconfig", str(faulty),
                             "--fail-writes", str(fraction), "--codes", codes, "--delay", "0.05", "--cut-watches", "4", "--seed", "1"],
                            data / "proxy.log"))
        deadline = time.monotonic() + 20
        while not faulty.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        proxy = KubeConfig.load(str(faulty)).connection().server
        procs.append(_spawn(["scheduler", "--kubeconfig", str(faulty), "--timing", "fast"], data / "scheduler.log"))
        procs.append(_spawn(["controller-manager", "--kubeconfig", str(faulty), "--timing", "fast"],
                            data / "controller-manager.log"))
        procs.append(start_hollow_nodes(srv, 4, cpu="64", memory="256Gi"))
        time.sleep(2)  # the scheduler sees the nodes
        yield RestClient(KubeConfig.load(str(srv.kubeconfig)).connection(), timeout=10), proxy
    finally:
        for p in reversed(procs):
            stop_server(p)
        stop_server(srv.process)
        shutil.rmtree(data, ignore_errors=True)


def _deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}


def _wait_available(client: RestClient, generation: int, replicas: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get("/apis/apps/v1/namespaces/default/deployments/web").get("status") or {}
        if s.get("observedGeneration", 0) >= generation and s.get("updatedReplicas") == replicas and \
                s.get("availableReplicas") == replicas and s.get("replicas") == replicas:
            return
        time.sleep(0.1)
    raise SystemExit(f"generation {generation} did not roll out in {timeout}s")


def one_run(fraction: float, replicas: int, codes: str = ALL_CODES) -> tuple[float, dict[str, Any]]:
    with faulty_cluster(fraction, codes) as (client, proxy):
        base = "/apis/apps/v1/namespaces/default/deployments"
        started = time.perf_counter()
        client.request("POST", base, body=_deployment(replicas))
        _wait_available(client, 1, replicas)
        for generation, image in ((2, "nginx:1.26"), (3, "nginx:1.25")):  # update, then undo
            client.request("PATCH", f"{base}/web", content_type="application/strategic-merge-patch+json",
                           body={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
            _wait_available(client, generation, replicas)
        took = time.perf_counter() - started
        with urllib.request.urlopen(f"{proxy}/debug/faults", timeout=5) as resp:
            stats: dict[str, Any] = json.loads(resp.read())["stats"]
        return took, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=200)
    parser.add_argument("--fractions", default="0,0.1,0.2")
    parser.add_argument("--no-429-run", action="store_true",
                        help="skip the extra 20%% run without 429s (it shows what waiting out Retry-After costs)")
    args = parser.parse_args()
    runs = [(float(f), ALL_CODES) for f in args.fractions.split(",")]
    if not args.no_429_run:
        runs.append((0.2, "500,503,409"))
    results: dict[tuple[float, str], float] = {}
    for fraction, codes in runs:
        print(f"rollout, update and undo of {args.replicas} replicas with {fraction:.0%} of writes failing "
              f"({codes}) ...", flush=True)
        took, stats = one_run(fraction, args.replicas, codes)
        results[(fraction, codes)] = took
        print(f"    {took:.1f} s; writes {stats['writes']}, failed {sum(stats['failed'].values())} "
              f"{stats['failed']}, watches cut {stats['watches_cut']}, pods created "
              f"{stats['created'].get('pods', 0)}", flush=True)
    baseline = results.get((0.0, ALL_CODES))
    for (fraction, codes), took in results.items():
        if fraction == 0.0 or baseline is None:
            continue
        label = "" if codes == ALL_CODES else " without 429"
        report(f"{fraction:.0%} faults{label}: rollout+update+undo", took, "s", f"<= {TARGET_RATIO:.0f}x",
               took <= TARGET_RATIO * baseline, f"no faults: {baseline:.1f} s; ratio {took / baseline:.2f}x")


if __name__ == "__main__":
    main()
