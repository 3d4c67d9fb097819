"""The scheduler: takes unassigned pods one at a time, filters and scores nodes, binds.

- Reads the cluster only through informers (nodes, pods); keeps a cache of NodeInfo with every
  bound pod, and *assumes* a pod on its node as soon as it is chosen, before the bind returns, so
  the next pod already sees the capacity taken (binds run in the background).
- Samples nodes on large clusters (kube-scheduler's percentageOfNodesToScore), starting each
  search where the last one stopped.  Per pod it runs only the filters that could reject it
  (framework.plan_filters); a pass traced for `mkctl trace` also records every rejection and the
  feasible nodes' scores (verdicts.py), an untraced one pays nothing for that.
- A pod that fits nowhere gets PodScheduled=False (reason Unschedulable) with kube-scheduler's
  node-by-node summary, a FailedScheduling event, and waits in an unschedulable set that is
  flushed back to the active queue when nodes or pods change (and every 30 s).
- Pods choose their profile by spec.schedulerName (see framework.make_profiles); pods naming a
  scheduler that is not ours are left alone.
- A pod whose bind or status write failed (or whose pass raised) waits out a per-pod backoff
  (kube-scheduler's: 1 s doubling to 10 s; the fast timing profile's 0.2 s to 2 s) and is tried again if it is still unbound then; a
  NotFound on bind means the pod is gone.  Time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from typing import Any

from ..api import kinds
from ..api.errors import ApiError, NotFound
from ..api.times import format_time
from ..api.timing import TIMINGS, Timing
from ..client.clock import SYSTEM, Clock
from ..client.events import EventRecorder
from ..client.informer import Informer, InformerFactory, key_of, split_key
from ..client.tracing import Tracer, observe, want
from .framework import (
    NodeInfo,
    PodInfo,
    Profile,
    make_profiles,
    nodes_to_find,
    plan_filters,
    unschedulable_message,
    volume_binding_filter,
)
from .verdicts import Verdicts

log = logging.getLogger("minikube_py.scheduler")
Obj = dict[str, Any]
POD = kinds.require("v1", "Pod")
NODE = kinds.require("v1", "Node")


def _schedulable_view(node: Obj) -> tuple[Any, ...]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return (spec.get("unschedulable"), repr(spec.get("taints")), repr(status.get("allocatable")), ready,
            repr((node.get("metadata") or {}).get("labels")))


class Scheduler:
    def __init__(self, informers: InformerFactory, recorder: EventRecorder, *, default_profile: str = "binpack",
                 percentage_of_nodes: int = 0, bind_concurrency: int = 64, tracer: Tracer | None = None,
                 clock: Clock = SYSTEM, timing: Timing = TIMINGS["kubernetes"]) -> None:
        self.client = informers.client
        self.clock = clock
        self.initial_backoff, self.max_backoff = timing.pod_initial_backoff, timing.pod_max_backoff
        self.recorder = recorder
        self.tracer = tracer
        self.profiles: dict[str, Profile] = make_profiles(default_profile)
        self.claims: Informer = informers.get(kinds.require("v1", "PersistentVolumeClaim"))
        self.volumes: Informer = informers.get(kinds.require("v1", "PersistentVolume"))
        volume_check = volume_binding_filter(self.claims.get, self.volumes.get)
        for profile in self.profiles.values():
            profile.filters.append(("VolumeBinding", volume_check))
        self.claims.add_handler(lambda kind, obj, old: self._flush_unschedulable())  # a claim may now fit
        self.volumes.add_handler(lambda kind, obj, old: self._flush_unschedulable())
        self.percentage = percentage_of_nodes
        self.pods: Informer = informers.get(POD)
        self.nodes: Informer = informers.get(NODE)
        self.node_infos: dict[str, NodeInfo] = {}
        self._nodes_cache: list[NodeInfo] | None = None
        self.assumed: dict[str, str] = {}  # pod key -> node name, until the informer shows the binding
        self._active: list[tuple[int, float, int, str]] = []  # (-priority, time, seq, key)
        self._queued: set[str] = set()
        self._unschedulable: dict[str, float] = {}
        self._failures: dict[str, int] = {}  # pod key -> failed attempts in a row (the backoff)
        self._backing_off: dict[str, Any] = {}  # pod key -> its timer
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._next_start = 0
        self._binds = asyncio.Semaphore(bind_concurrency)
        self._bind_tasks: set[asyncio.Task[None]] = set()
        self.scheduled = 0
        self.failed = 0
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)

    # --- cache ------------------------------------------------------------------------------------

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        name = str(node["metadata"]["name"])
        if kind == "DELETED":
            self.node_infos.pop(name, None)
            self._nodes_cache = None
            return
        ni = self.node_infos.get(name)
        if ni is None:
            self.node_infos[name] = NodeInfo(node)
        else:
            ni.set_node(node)
        if old is None or _schedulable_view(old) != _schedulable_view(node):
            self._flush_unschedulable()  # a node that may now take pods (not every heartbeat)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        key = key_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        old_node = ((old or {}).get("spec") or {}).get("nodeName")
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if kind == "DELETED" or finished:
            for name in {node_name, old_node, self.assumed.pop(key, None)}:
                if name and name in self.node_infos:
                    self.node_infos[name].remove(key)
            self._queued.discard(key)
            self._unschedulable.pop(key, None)
            self._forget(key)
            if kind == "DELETED" or (old is not None and (old.get("status") or {}).get("phase") not in ("Succeeded", "Failed")):
                self._flush_unschedulable()  # freed capacity
            return
        if node_name:
            self._forget(key)
            assumed = self.assumed.pop(key, None)
            if assumed and assumed != node_name and assumed in self.node_infos:
                self.node_infos[assumed].remove(key)
            ni = self.node_infos.get(node_name)
            if ni is None:
                ni = self.node_infos[node_name] = NodeInfo({"metadata": {"name": node_name}})
            ni.add(key, pod)
            return
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        if (pod.get("spec") or {}).get("schedulerName", "default-scheduler") not in self.profiles:
            return
        if key in self.assumed or key in self._backing_off or key in self._unschedulable and kind == "MODIFIED":
            return
        self._enqueue(pod)

    def _forget(self, key: str) -> None:
        self._failures.pop(key, None)
        timer = self._backing_off.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _retry_later(self, key: str, why: str) -> float:
        """Back the pod off (1 s doubling to 10 s, or the fast profile's 0.2 s to 2 s) and queue it again
        when that has passed."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self.initial_backoff * 2 ** failures, self.max_backoff)
        old = self._backing_off.pop(key, None)
        if old is not None:
            old.cancel()

        def again() -> None:
            self._backing_off.pop(key, None)
            pod = self.pods.get(key)
            if pod is not None and not (pod.get("spec") or {}).get("nodeName"):
                self._enqueue(pod)
        self._backing_off[key] = self.clock.call_later(delay, again)
        log.warning("%s: %s; retrying in %.1fs", key, why, delay)
        return delay

    def _enqueue(self, pod: Obj) -> None:
        key = key_of(pod)
        if key in self._queued:
            return
        self._queued.add(key)
        priority = int((pod.get("spec") or {}).get("priority") or 0)
        heapq.heappush(self._active, (-priority, self.clock.monotonic(), next(self._seq), key))
        self._wake.set()

    def _flush_unschedulable(self) -> None:
        if not self._unschedulable:
            return
        keys = list(self._unschedulable)
        self._unschedulable.clear()
        for key in keys:
            pod = self.pods.get(key)
            if pod is not None and not (pod.get("spec") or {}).get("nodeName"):
                self._enqueue(pod)

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        flusher = asyncio.create_task(self._periodic_flush())
        attempts = 0
        try:
            while True:
                if not self._active:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                _, _, _, key = heapq.heappop(self._active)
                self._queued.discard(key)
                pod = self.pods.get(key)
                if pod is None or (pod.get("spec") or {}).get("nodeName") or key in self.assumed:
                    continue
                try:
                    self.schedule_one(pod)
                except Exception as exc:  # noqa: BLE001 - a bug or a bad pod must not stop the others
                    log.exception("%s: scheduling failed", key)
                    self._retry_later(key, f"scheduling failed ({type(exc).__name__}: {exc})")
                attempts += 1
                if attempts % 32 == 0:
                    await asyncio.sleep(0)  # let binds, status writes and watch events through
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            for timer in self._backing_off.values():
                timer.cancel()
            self._backing_off.clear()
            for task in list(self._bind_tasks):
                task.cancel()
            await asyncio.gather(*self._bind_tasks, return_exceptions=True)

    async def run_after_sync(self, informers: InformerFactory) -> None:
        await informers.wait_synced()
        log.info("scheduler: informers synced, %d nodes", len(self.node_infos))
        if self.tracer:
            self.tracer.start()
        await self.run()

    async def _periodic_flush(self) -> None:
        while True:
            await self.clock.sleep(30)
            self._flush_unschedulable()

    def _node_list(self) -> list[NodeInfo]:
        if self._nodes_cache is None or len(self._nodes_cache) != len(self.node_infos):
            self._nodes_cache = list(self.node_infos.values())
        return self._nodes_cache

    def find_node(self, pod: Obj, verdicts: Verdicts | None = None) -> tuple[str | None, dict[str, int], int]:
        """(chosen node, reasons by count when none fits, nodes considered).  `verdicts`, when given
        (a traced pass), hears every rejection and the scores of the feasible nodes."""
        profile = self.profiles[(pod.get("spec") or {}).get("schedulerName", "default-scheduler")]
        pi = PodInfo.of(pod)
        infos = self._node_list()
        total = len(infos)
        if total == 0:
            return None, {}, 0
        want = nodes_to_find(total, self.percentage)
        # per pod, only the filters that could reject it (plan_filters): the same verdicts, fewer calls
        gated, on_plain = plan_filters(profile.filters, pi)
        only_name, only = on_plain[0] if len(on_plain) == 1 else ("", None)
        score = profile.score
        feasible = 0
        best: NodeInfo | None = None
        best_score, best_pods = -1, 0
        reasons: dict[str, int] = {}
        start = self._next_start % total
        checked = 0
        for i in range(total):
            ni = infos[(start + i) % total]
            checked += 1
            if ni.plain and only is not None:  # the common case: one filter could say no
                failed, plugin = only(pi, ni), only_name
            elif not ni.known:  # known only from a pod; the node object has not arrived
                failed, plugin = ["node(s) were not ready"], "NodeReady"
            else:
                failed, plugin = [], ""
                for name, check in on_plain if ni.plain else gated:
                    failed = check(pi, ni)
                    if failed:
                        plugin = name
                        break
            if failed:
                for r in failed:
                    reasons[r] = reasons.get(r, 0) + 1
                if verdicts is not None:
                    verdicts.rejected(ni.name, plugin, failed)
                continue
            feasible += 1
            # the best by (score, fewest pods, name), compared in place instead of a key tuple per node
            s = score(pi, ni)
            if verdicts is not None:
                verdicts.scored(ni.name, s)
            if best is None or s > best_score or (s == best_score and (
                    len(ni.pods) < best_pods or (len(ni.pods) == best_pods and ni.name > best.name))):
                best, best_score, best_pods = ni, s, len(ni.pods)
            if feasible >= want:
                break
        self._next_start = (start + checked) % total
        if verdicts is not None:
            verdicts.checked, verdicts.feasible = checked, feasible
        if best is None:
            return None, reasons, total
        return best.name, {}, total

    def schedule_one(self, pod: Obj) -> str | None:
        key = key_of(pod)
        token = self.tracer.begin("scheduler", "Pod", key, "pending pod") if self.tracer else None
        if token is None:
            node, reasons, total = self.find_node(pod)
        else:
            verdicts = Verdicts()
            node, reasons, total = self.find_node(pod, verdicts)
            # the rejections are in the summary's `filtered` (per plugin and reason, with the nodes)
            observe(nodes=total, checked=verdicts.checked, feasible=verdicts.feasible, **verdicts.summary())
            want(node=node or "none fits")
            assert self.tracer is not None
            self.tracer.end(token, f"bind to {node}" if node else "unschedulable")
        if node is None:
            self.failed += 1
            self._unschedulable[key] = self.clock.monotonic()
            message = unschedulable_message(total, reasons)
            self._spawn(self._mark_unschedulable(pod, message))
            return None
        self.assumed[key] = node
        self.node_infos[node].add(key, pod)
        self.scheduled += 1
        self._spawn(self._bind(pod, node))
        return node

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bind_tasks.add(task)
        task.add_done_callback(self._bind_tasks.discard)

    async def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        key = key_of(pod)
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        async with self._binds:
            try:
                await self.client.create(POD, meta.get("namespace"), body, subresource="binding", name=meta["name"])
            except ApiError as exc:  # forget the assumption; try the pod again after its backoff
                if self.assumed.pop(key, None) == node and node in self.node_infos:
                    self.node_infos[node].remove(key)
                if isinstance(exc, NotFound):
                    log.debug("%s: bind to %s not needed: %s", key, node, exc)  # the pod is gone
                    return
                # anything else, a Conflict too: try again after the backoff if the cache then still
                # shows the pod unbound (a pod bound meanwhile is not touched again)
                self._retry_later(key, f"binding to {node} failed: {exc.code} {exc.reason}: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - a bug or a closed client: never leave the pod assumed
                if self.assumed.pop(key, None) == node and node in self.node_infos:
                    self.node_infos[node].remove(key)
                self._retry_later(key, f"binding to {node} failed: {type(exc).__name__}: {exc}")
                return
        self.recorder.event(pod, "Normal", "Scheduled", f"Successfully assigned {key} to {node}")

    async def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        ns, name = split_key(key_of(pod))
        current = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
        if current and current[0].get("status") == "False" and current[0].get("message") == message:
            return  # nothing new to say
        cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                "lastProbeTime": None, "lastTransitionTime": format_time(self.clock.now())}
        self.recorder.event(pod, "Warning", "FailedScheduling", message)
        try:
            await self.client.patch(POD, ns, name, {"status": {"conditions": [cond]}}, patch_type="strategic",
                                    subresource="status")
        except NotFound:
            return
        except ApiError as exc:  # the pod cannot say why it waits: try it again soon rather than at a flush
            key = key_of(pod)
            self._unschedulable.pop(key, None)
            self._retry_later(key, f"writing its PodScheduled condition failed: {exc.code} {exc.reason}: {exc}")

    async def wait_binds(self) -> None:
        while self._bind_tasks:
            await asyncio.gather(*list(self._bind_tasks), return_exceptions=True)
