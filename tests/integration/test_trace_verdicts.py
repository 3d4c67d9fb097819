"""`mkctl trace` on a running cluster (hollow nodes) shows a learner why the scheduler put a pod
where it did: the nodes each filter rejected, with the plugin and kube-scheduler's reason, and the
scores of the nodes it compared, under a `Pod namespace/name` heading, in time order."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.server import RunningCluster

pytestmark = pytest.mark.kubectl


def test_trace_shows_filter_verdicts_and_scores(kubectl_bin: Path, cluster: RunningCluster) -> None:
    prefix = f"tr-{uuid.uuid4().hex[:6]}"
    target = cluster.node_names[1]
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig",
                             str(cluster.server.kubeconfig), "trace", f"pod/{prefix}", "--controller", "scheduler"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        out.extend(proc.stdout)

    threading.Thread(target=read, daemon=True).start()
    try:
        # the scheduler learns within a few seconds that somebody watches: make pods until one is traced
        deadline, made, i = time.monotonic() + 40, 0.0, 0
        while time.monotonic() < deadline and not re.search(r"scores:.*\n    wanted:.*\n    result:", "".join(out)):
            if not any("scores:" in line for line in out) and time.monotonic() - made > 1.5:
                subprocess.run([str(kubectl_bin), "--kubeconfig", str(cluster.server.kubeconfig), "run",
                                f"{prefix}-{i}", "--image=nginx", "--overrides=" + json.dumps(
                                    {"spec": {"nodeSelector": {"kubernetes.io/hostname": target}}})],
                               check=True, capture_output=True, timeout=30)
                made, i = time.monotonic(), i + 1
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    text = "".join(out)
    assert "scores:" in text, text
    entry = text[text.index("  scheduler  Pod default/" + prefix):]
    entry = entry[:entry.index("    result:")]
    # the store may hold nodes of other test modules (etcd is shared, and their nodes come and go):
    # every node the scheduler knew was checked, and only the target fits
    others = {n for n in cluster.node_names if n != target}
    m = re.search(r"filtered: (\d+) nodes NodeAffinity: node\(s\) didn't match Pod's node affinity/selector: (.*)\n",
                  entry)
    assert m, entry
    named = set(m.group(2).split(", "))
    assert others <= named and target not in named, entry
    assert int(m.group(1)) == len(named) if len(named) <= 10 else int(m.group(1)) >= 10, entry
    assert re.search(rf"scores:   {target}=\d+ \(best 1 of 1 feasible\)\n", entry), entry
    seen = re.search(r"observed: nodes=(\d+) checked=(\d+) feasible=1\n", entry)
    assert seen and seen.group(1) == seen.group(2) and int(seen.group(1)) >= len(cluster.node_names), entry
    assert "rejected=" not in entry
    stamps = [line[:12] for line in text.splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", line)]
    assert stamps == sorted(stamps)
