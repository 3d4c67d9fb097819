"""`kubectl exec POD -- true` round trip, p50 and p99, beside `docker exec CONTAINER true` in the same run.

The whole path as a user takes it: kubectl 1.35 (GET the pod, WebSocket v5 upgrade), the
apiserver (validation, dial of the agent with its kubelet-client certificate, relay), the agent
(Docker exec create/start/inspect), and back with the exit code.  The baseline is the docker CLI
doing the same exec on the same container, and `kubectl get pod` for kubectl's own share (its start,
TLS, one request).  Docker's exec of `true` alone takes ~75 ms here (runc), so the target is on what
we add: kubectl exec's p50 minus docker exec's p50 within kubectl get pod's p50 + 50 ms (one
relay hop and the agent's Docker calls).
A real control plane (sqlite, --timing fast) and one real agent (benchmarks/_agent.py); every
container the agent made is removed at the end (by its ownership label).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from benchmarks._agent import agent_cluster
from benchmarks._common import report

RELAY_BUDGET_MS = 50.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        out.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=40)
    args = p.parse_args()
    kubectl = Path.home() / ".cache" / "minikube-py" / "kubectl-1.35" / "kubectl"
    if not kubectl.exists():
        raise SystemExit(f"kubectl 1.35 is not at {kubectl}: run `python -m tests.fixtures.kubectl`")
    with agent_cluster("bench-exec") as c:
        k = [str(kubectl), "--kubeconfig", str(c.server.kubeconfig)]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-exec"},
               "spec": {"terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]}}
        subprocess.run([*k, "apply", "-f", "-"], input=json.dumps(pod), capture_output=True, text=True, check=True)
        print("waiting for the pod to run on the agent ...", flush=True)
        subprocess.run([*k, "wait", "--for=condition=Ready", "pod/bench-exec", "--timeout=180s"], check=True,
                       capture_output=True, text=True)
        status = json.loads(subprocess.run([*k, "get", "pod", "bench-exec", "-o", "json"], capture_output=True,
                                           text=True, check=True).stdout)["status"]["containerStatuses"][0]
        container = status["containerID"].removeprefix("docker://")
        docker_cli = shutil.which("docker")
        timed([*k, "exec", "bench-exec", "--", "true"], 3)  # warm: TLS, the agent's Docker client
        kube = timed([*k, "exec", "bench-exec", "--", "true"], args.runs)
        base = timed([docker_cli, "exec", container, "true"], args.runs) if docker_cli else []
        get_p50 = statistics.median(timed([*k, "get", "pod", "bench-exec"], args.runs))
    base_p50 = statistics.median(base) if base else float("nan")
    p50, p99 = statistics.median(kube), percentile(kube, 0.99)
    baseline = (f"docker exec p50 {base_p50:.0f} ms, p99 {percentile(base, 0.99):.0f} ms" if base
                else "no docker CLI on this machine") + f"; kubectl get pod p50 {get_p50:.0f} ms"
    report("kubectl exec POD -- true, p50", p50, "ms", "(reported)", True, baseline)
    report("kubectl exec POD -- true, p99", p99, "ms", "(reported)", True)
    if base:
        added = p50 - base_p50
        report("  added over docker exec (p50)", added, "ms", f"<= get+{RELAY_BUDGET_MS:.0f}",
               added <= get_p50 + RELAY_BUDGET_MS, f"kubectl get pod p50 {get_p50:.0f} ms")


if __name__ == "__main__":
    main()
