"""Target: `mkctl get pods` against a running server returns in < 300 ms on this machine.

Measures the whole command as a user runs it (interpreter start, imports, kubeconfig, TLS,
discovery, the Table request, printing), median of N runs, on a server holding 20 pods.
Baselines in the same run: `python -c pass` (the interpreter's own start) and the real
kubectl 1.35 (a Go binary) doing the same `get pods`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import pod, report, server

TARGET_MS = 300.0


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        samples.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return statistics.median(samples)


def import_ms() -> float:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import minikube_py.cli.mkctl"],
                         capture_output=True, text=True).stderr
    line = next(ln for ln in out.splitlines() if ln.rstrip().endswith("minikube_py.cli.mkctl"))
    return int(line.split("|")[1]) / 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args()
    with server("sqlite") as srv:
        mk = [sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", str(srv.kubeconfig)]
        for i in range(20):
            subprocess.run([*mk, "create", "-f", "-"], input=json.dumps(pod(f"p{i}")), capture_output=True,
                           text=True, check=True)
        out = subprocess.run([*mk, "get", "pods"], capture_output=True, text=True, check=True).stdout
        assert out.count("\n") == 21, out
        python_ms = timed([sys.executable, "-c", "pass"], args.runs)
        kubectl = Path.home() / ".cache" / "minikube-py" / "kubectl-1.35" / "kubectl"
        kubectl_ms = timed([str(kubectl), "--kubeconfig", str(srv.kubeconfig), "get", "pods"], args.runs) \
            if kubectl.exists() else float("nan")
        mkctl_ms = timed([*mk, "get", "pods"], args.runs)
        report("mkctl get pods (median, whole command)", mkctl_ms, "ms", f"< {TARGET_MS:.0f} ms",
               mkctl_ms < TARGET_MS, f"python -c pass {python_ms:.0f} ms, kubectl get pods {kubectl_ms:.0f} ms")
        print(f"{'  of which importing mkctl':<48} {import_ms():>10.1f} ms", flush=True)


if __name__ == "__main__":
    main()
