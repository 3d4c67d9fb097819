"""The two timing profiles (DESIGN.md "Defaults"): Kubernetes' own, and a fast test profile with the
same ratios, chosen by `--timing`.  Every component reads its periods from here: the controllers
(node grace, eviction toleration, informer resync), the scheduler (its per-pod backoff), the
apiserver (DefaultTolerationSeconds) and the nodes (lease renewal)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    name: str
    lease_renew: float
    node_grace: float
    eviction_toleration: int
    # informers replay their caches to the handlers this often, so a key lost to a failed handler
    # heals (kube-controller-manager: 12-24 h; a learning cluster should heal visibly)
    resync: float
    # the scheduler's per-pod backoff after a failed attempt: kube-scheduler's podInitialBackoffSeconds
    # and podMaxBackoffSeconds (1 s and 10 s)
    pod_initial_backoff: float
    pod_max_backoff: float


TIMINGS = {"kubernetes": Timing("kubernetes", 10.0, 50.0, 300, 300.0, 1.0, 10.0),
           "fast": Timing("fast", 2.0, 10.0, 30, 30.0, 0.2, 2.0)}
