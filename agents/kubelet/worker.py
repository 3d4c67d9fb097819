"""Pod workers: the kubelet's sync loop for the pods bound to this node, level-triggered.

The pods informer (fieldSelector spec.nodeName=<node>), Docker's event stream (a container of ours
started, died or removed) and a periodic resync enqueue pod keys on
a WorkQueue, which hands each key out once at a time with per-pod backoff; each pass runs in a task
of its own (the kubelet's pod worker per pod), so a pod that waits out a grace period or a hook
never delays another, and Docker's thread pool bounds how much runs at once.  A pass: snapshot what Docker has for the pod's uid (agents/kubelet/runtime.py), compute
the actions (agents/kubelet/actions.py, the kubelet's computePodActions), execute them, snapshot
again and write the status (agents/kubelet/status.py) through pods/status only when it changed.
A pod being deleted has its containers stopped (preStop, SIGTERM, its grace period, SIGKILL; app
containers first, then the sidecars) and removed, then its graceful deletion is finished as the
kubelet does.  Probe tasks (agents/kubelet/probes.py) follow the running containers after each
pass; a probe result that flips enqueues the pod.  postStart hooks run right after a start
(agents/kubelet/hooks.py); the hosts file and termination logs are agents/kubelet/podfiles.py's.
Containers of ours whose pod is gone are removed by the housekeeping pass.  A failing pod is retried with backoff and never blocks the
others; nothing here ends the agent.

Called by agents/node.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import docker.errors

from minikube_py.api import kinds
from minikube_py.api.errors import ApiError, NotFound
from minikube_py.api.times import format_time
from minikube_py.client.aio import ApiClient
from minikube_py.client.clock import SYSTEM, Clock
from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import Informer, key_of, strip_heavy_metadata
from minikube_py.client.tracing import Tracer, observe, want
from minikube_py.client.workqueue import WorkQueue

from .actions import (
    ContainerSnapshot,
    PodActions,
    PodSnapshot,
    RestartBackoff,
    backoff_key,
    compute_pod_actions,
    is_sidecar,
)
from .env import EnvError, PodFacts, container_env
from .hooks import run_hook
from .images import ImageError, ImageManager
from .podfiles import add_container_files, remove_pod_files
from .probes import Prober, handler_runner
from .runtime import ContainerExtras, DockerRuntime, StartFailed
from .security import Refusal, allowed_status, blocked_status, container_security, non_root_error, refusal
from .status import changed, pod_status
from .volume_manager import PodVolumes, VolumeManager, VolumesNotReady
from .volumes import MountError, container_mounts

log = logging.getLogger("minikube_py.kubelet")
Obj = dict[str, Any]
POD = kinds.require("v1", "Pod")
NODE = kinds.require("v1", "Node")
CONFIGMAP = kinds.require("v1", "ConfigMap")
SECRET = kinds.require("v1", "Secret")


class ContainersFailed(Exception):
    """Some containers of a pod could not be started this pass: its status says why; retried with backoff."""


class SandboxFailed(ContainersFailed):
    """The pod's sandbox could not be created (a host port taken, ...): a FailedCreatePodSandBox
    event says why, the containers stay ContainerCreating; retried with backoff."""


def _start_failure(image: str, exc: Exception) -> tuple[str, str]:
    """The kubelet's waiting reason and message for a container that could not be created or started."""
    if isinstance(exc, docker.errors.ImageNotFound):
        return ("ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never '
                                     f"(registries are off: load it with `minikube-py image load {image}`)")
    if isinstance(exc, StartFailed):
        return "RunContainerError", str(exc)
    if isinstance(exc, docker.errors.APIError):
        return "CreateContainerError", str(exc.explanation or exc)
    return "CreateContainerError", f"{type(exc).__name__}: {exc}"


class PodWorkers:
    def __init__(self, client: ApiClient, runtime: DockerRuntime, node: str, *, host_ip: str,
                 data_dir: Path, clock: Clock = SYSTEM, resync: float = 10.0,
                 backoff: RestartBackoff | None = None, registries: bool = False,
                 allow_privileged: bool = False, tracer: Tracer | None = None) -> None:
        self.client = client
        self.runtime = runtime
        self.node = node
        self.host_ip = host_ip
        self.data_dir = data_dir  # the agent's --data-dir: each pod's files live under pods/<uid>/
        self.clock = clock
        self.resync = resync
        self.backoff = backoff or RestartBackoff()
        self.allow_privileged = allow_privileged
        self._refused: dict[str, str] = {}  # pod uid -> the refusal last said in an event
        self.tracer = tracer  # passes reported to `mkctl trace pod/NAME` while somebody watches
        self.triggers: dict[str, str] = {}  # pod key -> what last asked for a pass (for traces)
        self._passes: dict[str, asyncio.Task[None]] = {}  # pod key -> its pass running now
        self._known: set[str] = set()  # uids of the pods this kubelet keeps state for (forget_pod ends it)
        self._syncing: set[str] = set()  # uids in a pass now: forgotten only after it
        self.images = ImageManager(runtime, registries=registries, initial=self.backoff.initial,
                                   maximum=self.backoff.maximum, now=clock.now)
        self.pods = Informer(client, POD, field_selector=f"spec.nodeName={node}", clock=clock)
        self.pods.transform = strip_heavy_metadata  # the kubelet needs the whole spec
        self.pods.add_handler(self._on_pod)
        self.pods.add_index("uid", lambda p: [str((p.get("metadata") or {}).get("uid"))])
        self.queue = WorkQueue(f"kubelet-{node}", base_delay=0.5, max_delay=30.0, clock=clock)
        self.events = EventRecorder(client, "kubelet", clock=clock)
        self.network_ready = asyncio.Event()
        self.volumes = VolumeManager(client, runtime, self.events, data_dir=data_dir, node=node, pod_dir=self.pod_dir,
                                     on_change=self._on_docker_event, allow_privileged=allow_privileged, clock=clock)
        self.prober = Prober(handler_runner(self.runtime.exec_in), lambda key: self._enqueue(key, "a probe result"),
                             self._pod_event, clock=clock)

    def pod_dir(self, uid: str) -> Path:
        """Where the pod's files live on this host (volumes, /etc/hosts, termination logs), as the
        kubelet's /var/lib/kubelet/pods/<uid>."""
        return self.data_dir / "pods" / uid

    def _enqueue(self, key: str, why: str) -> None:
        self.triggers[key] = why
        self.queue.add(key)

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        self._enqueue(key_of(pod), f"pod {kind.lower()}")

    # --- one pass ----------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return  # gone: its containers are the housekeeping's
        uid = str(pod["metadata"]["uid"])
        self._known.add(uid)
        self._syncing.add(uid)
        try:
            await self._sync(pod, key, uid)
        finally:
            self._syncing.discard(uid)

    async def _sync(self, pod: Obj, key: str, uid: str) -> None:
        snap = await self.runtime.call(self.runtime.snapshot, uid)
        refused = None if pod["metadata"].get("deletionTimestamp") else refusal(
            pod, allow_privileged=self.allow_privileged)
        if refused is not None:
            await self._refuse(pod, key, snap, refused)
            return
        actions = compute_pod_actions(pod, snap, now=self.clock.now(), backoff=self.backoff,
                                      probes=self.prober.results)
        observe(node=self.node, sandboxes=[f"{s.id[:12]} attempt {s.attempt} {'ready' if s.ready else 'stopped'}"
                                           f"{' ' + s.ip if s.ip else ''}" for s in snap.sandboxes],
                containers=[f"{c.name} #{c.restart_count} {c.state}"
                            f"{f' (exit {c.exit_code})' if c.exit_code is not None else ''}" for c in snap.containers])
        want(actions=_describe(actions) or "nothing to do", crash_loop=list(actions.backoff.values()))
        if not actions.nothing:
            log.info("%s: %s", key, _describe(actions))
        volumes = None
        if not pod["metadata"].get("deletionTimestamp") and \
                (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            try:  # every pass: files of configMaps, secrets and the downward API follow their sources
                volumes = await self.volumes.setup(pod)
            except VolumesNotReady as exc:  # FailedMount: the pod waits in ContainerCreating, retried with backoff
                await self._write_status(pod, key, snap, actions, {})
                raise ContainersFailed(str(exc)) from exc
        try:
            failures = await self._execute(pod, snap, actions, volumes)
        except SandboxFailed:  # the containers wait in ContainerCreating, retried with backoff
            await self._write_status(pod, key, snap, actions, {})
            raise
        if pod["metadata"].get("deletionTimestamp"):
            await self._finish_deletion(pod, key)
            return
        if not actions.nothing:
            snap = await self.runtime.call(self.runtime.snapshot, uid)
        await self.runtime.call(self.runtime.garbage_collect, snap)
        self._track_probes(pod, key, snap)
        await self._write_status(pod, key, snap, actions, failures)
        if failures:
            raise ContainersFailed("; ".join(f"{name}: {reason}: {message}"
                                             for name, (reason, message) in failures.items()))
        if actions.backoff:  # come back when the crash-loop backoff allows the restart
            self.triggers[key] = "the crash-loop backoff timer"
            self.queue.add_after(key, self._backoff_left(pod, snap, actions))

    def _backoff_left(self, pod: Obj, snap: PodSnapshot, actions: PodActions) -> float:
        """Seconds until the first container held back by the crash-loop backoff may restart (at
        least 1 s): the pod's next pass, not one a second."""
        spec = pod.get("spec") or {}
        containers = {str(c.get("name")): c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
        now, uid, left = self.clock.now(), str(pod["metadata"]["uid"]), []
        for name in actions.backoff:
            last = snap.latest(name)
            if name in containers and last is not None:
                left.append(self.backoff.in_backoff(backoff_key(uid, containers[name]), last.finished_at or now, now))
        return max(1.0, min(left, default=1.0))

    async def _refuse(self, pod: Obj, key: str, snap: PodSnapshot, refused: Refusal) -> None:
        """A pod that would get the host: nothing of it runs (what runs from before is stopped), and
        its status and a Forbidden event say why, once."""
        if any(c.state == "running" for c in snap.containers) or any(s.ready for s in snap.sandboxes):
            log.info("%s: stopping it: %s", key, refused.message)
            await self._kill_pod(pod, snap, _grace_period(pod), False)
            snap = await self.runtime.call(self.runtime.snapshot, str(pod["metadata"]["uid"]))
        uid = str(pod["metadata"]["uid"])
        if self._refused.get(uid) != refused.reason:  # said once per reason, not on every resync
            self._refused[uid] = refused.reason
            log.warning("%s: refused: %s", key, refused.message)
            self.events.event(pod, "Warning", "Forbidden", refused.message)
        await self._write_status(pod, key, snap, PodActions(), {}, refused)

    async def _get_secret(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(SECRET, namespace, name)
        except NotFound:
            return None

    async def _execute(self, pod: Obj, snap: PodSnapshot, actions: PodActions,
                       volumes: PodVolumes | None = None) -> dict[str, tuple[str, str]]:
        """Carry the actions out; returns the containers that could not be started (and why)."""
        spec = pod.get("spec") or {}
        grace = _grace_period(pod)
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        if actions.kill_pod:
            await self._kill_pod(pod, snap, grace, deleting)
        for k in actions.kill:
            cs = next((c for c in snap.containers if c.id == k.id), None)
            if cs is not None:
                await self._stop_container(pod, snap, cs, grace if k.grace is None else k.grace, k.message)
        sandbox_id = actions.sandbox_id
        if actions.create_sandbox:
            if not spec.get("hostNetwork"):  # no podCIDR yet: this pod is retried, the others go on
                await asyncio.wait_for(self.network_ready.wait(), 5.0)
            try:
                sandbox_id = await self.runtime.call(self.runtime.create_sandbox, pod, actions.attempt,
                                                     volumes.sandbox_mounts() if volumes else None)
            except Exception as exc:  # noqa: BLE001 - a pod whose sandbox fails never stops the others
                message = str(exc.explanation or exc) if isinstance(exc, docker.errors.APIError) else \
                    f"{type(exc).__name__}: {exc}"
                self.events.event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {message}")
                raise SandboxFailed(message) from exc
        containers = {str(c.get("name")): c
                      for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
        failures: dict[str, tuple[str, str]] = {}
        facts: PodFacts | None = None
        for s in actions.start:
            c = containers[s.name]
            if s.restart_count > 0:
                self.backoff.next(backoff_key(str(pod["metadata"]["uid"]), c), self.clock.now())
            try:  # the kubelet's order: the image, the container's config, then create and start
                image_user = await self.images.ensure(
                    pod, c, lambda type_, reason, message: self.events.event(pod, type_, reason, message),
                    self._get_secret)
            except ImageError as exc:
                failures[s.name] = (exc.reason, exc.message)
                self.events.event(pod, "Warning", "Failed", f"Error: {exc.reason}")
                continue
            try:
                problem = non_root_error(pod, c, image_user or "")
                if problem:
                    raise EnvError(problem)
                if facts is None:
                    facts = await self._pod_facts(pod, sandbox_id)
                env = await self._container_env(pod, c, facts)
                binds, mounts = await self.runtime.call(container_mounts, c, volumes.prepared if volumes else {}, env)
            except (EnvError, MountError) as exc:  # the kubelet's CreateContainerConfigError: retried with backoff
                failures[s.name] = ("CreateContainerConfigError", str(exc))
                self.events.event(pod, "Warning", "Failed", f"Error: {exc}")
                continue
            try:
                config, host_config = container_security(pod, c, allow_privileged=self.allow_privileged)
                if mounts:
                    host_config["mounts"] = mounts
                extras = ContainerExtras(binds=binds, config=config, host_config=host_config)
                await self.runtime.call(add_container_files, extras, self.pod_dir(str(pod["metadata"]["uid"])), pod,
                                        c, s.restart_count, facts.pod_ips[0] if facts.pod_ips else "")
                cid = await self.runtime.call(self.runtime.start_container, pod, c, s.restart_count, sandbox_id,
                                              env, extras)
            except Exception as exc:  # noqa: BLE001 - one container failing does not stop its siblings
                reason, message = failures[s.name] = _start_failure(str(c.get("image")), exc)
                self.events.event(pod, "Warning", "Failed", f"Error: {message}")
                continue
            self.events.event(pod, "Normal", "Created", f"Created container: {s.name}")
            self.events.event(pod, "Normal", "Started", f"Started container {s.name}")
            log.debug("%s: started %s (%s)", key_of(pod), s.name, cid[:12])
            failed = await self._post_start(pod, c, cid, facts.pod_ips[0] if facts.pod_ips else "", grace)
            if failed:
                failures[s.name] = ("PostStartHookError", failed)
        for name, message in actions.backoff.items():
            self.events.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                                                         f"{pod['metadata']['name']}_{pod['metadata'].get('namespace')}"
                                                         f"({pod['metadata']['uid']})")
            log.debug("%s: %s", key_of(pod), message)
        return failures

    async def _pod_facts(self, pod: Obj, sandbox_id: str) -> PodFacts:
        """Addresses for the downward API: the sandbox's IP (the host's on the host network) and
        the node's allocatable, which stands in for unset limits."""
        ip = self.host_ip if (pod.get("spec") or {}).get("hostNetwork") else \
            await self.runtime.call(self.runtime.sandbox_ip, sandbox_id)
        allocatable: Obj = {}
        wants_resources = any((e.get("valueFrom") or {}).get("resourceFieldRef")
                              for c in (pod.get("spec") or {}).get("containers") or [] for e in c.get("env") or [])
        if wants_resources:  # one GET of our Node, only for pods that ask for a resource
            try:
                node = await self.client.get(NODE, None, self.node)
                allocatable = dict((node.get("status") or {}).get("allocatable") or {})
            except ApiError as exc:
                log.debug("node/%s: allocatable unknown (%s)", self.node, exc)
        return PodFacts(pod_ips=(ip,) if ip else (), host_ip=self.host_ip, allocatable=allocatable)

    async def _container_env(self, pod: Obj, container: Obj, facts: PodFacts) -> dict[str, str]:
        """The container's environment; ConfigMaps and Secrets are read with a GET each at container
        start (the kubelet keeps a per-pod cache; a start is rare enough here)."""
        wanted: dict[tuple[str, str, str], Obj | None] = {}
        namespace = str(pod["metadata"].get("namespace") or "default")
        refs = [(k, (src.get(f) or {}).get("name")) for src in container.get("envFrom") or []
                for k, f in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")) if src.get(f)]
        refs += [(k, ((e.get("valueFrom") or {}).get(f) or {}).get("name")) for e in container.get("env") or []
                 for k, f in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef"))
                 if not e.get("value") and (e.get("valueFrom") or {}).get(f)]
        for kind, name in refs:
            key = (kind, namespace, str(name or ""))
            if key in wanted:
                continue
            try:
                wanted[key] = await self.client.get(CONFIGMAP if kind == "ConfigMap" else SECRET, namespace,
                                                    str(name or ""))
            except NotFound:
                wanted[key] = None
        return container_env(pod, container, lambda k, ns, n: wanted.get((k, ns, n)), facts)

    async def _finish_deletion(self, pod: Obj, key: str) -> None:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        left = await self.runtime.call(self.runtime.snapshot, uid)
        if left.containers or left.sandboxes:
            await self.runtime.call(self.runtime.kill_pod, left, True)
        await self.volumes.cleanup(uid)
        try:
            await self.client.delete(POD, meta.get("namespace"), meta["name"], grace_period=0,
                                     preconditions={"uid": uid})
            log.info("%s: containers removed; deletion finished", key)
        except NotFound:
            pass
        self.forget_pod(uid)
        await self.runtime.call(remove_pod_files, self.pod_dir(uid))

    def forget_pod(self, uid: str) -> None:
        """Everything this kubelet keeps of a pod (its crash-loop and image backoffs, the refusal
        said, its probes): after its deletion finished, or by the housekeeping once it is not on the
        node any more (a terminal pod the apiserver deleted at once, a force delete)."""
        self.backoff.forget_pod(uid)
        self.images.forget_pod(uid)
        self._refused.pop(uid, None)
        self.prober.forget_pod(uid)
        self._known.discard(uid)

    async def _write_status(self, pod: Obj, key: str, snap: PodSnapshot, actions: PodActions,
                            failures: dict[str, tuple[str, str]], refused: Refusal | None = None) -> None:
        current = pod.get("status") or {}
        now = format_time(self.clock.now())
        wanted = pod_status(pod, snap, actions, now=now, host_ip=self.host_ip, failures=failures,
                            probes=self.prober.results)
        wanted = blocked_status(wanted, refused, now=now) if refused is not None else allowed_status(wanted, current)
        if not changed(current, wanted):
            return
        try:
            await self.client.patch(POD, pod["metadata"].get("namespace"), pod["metadata"]["name"],
                                    {"metadata": {"uid": pod["metadata"]["uid"]}, "status": wanted},
                                    subresource="status")
        except NotFound:
            pass

    # --- lifecycle: hooks and the graceful stop --------------------------------------------

    async def _post_start(self, pod: Obj, container: Obj, container_id: str, pod_ip: str, grace: int) -> str:
        """Run the container's postStart hook; a failure kills the container (kube's FailedPostStartHook)
        and is returned as the waiting message."""
        handler = (container.get("lifecycle") or {}).get("postStart")
        if not isinstance(handler, dict):
            return ""
        failed = await run_hook(handler, pod, container, container_id, pod_ip, self.runtime.exec_in,
                                max(30.0, float(grace)), self.clock.sleep)
        if failed:
            log.info("%s: postStart hook of %s failed: %s", key_of(pod), container.get("name"), failed)
            self.events.event(pod, "Warning", "FailedPostStartHook", failed)
            self.events.event(pod, "Normal", "Killing", "FailedPostStartHook")
            await self.runtime.stop(container_id, kill_grace(grace), self.clock.sleep)
        return failed

    async def _stop_container(self, pod: Obj, snap: PodSnapshot, cs: ContainerSnapshot, grace: int,
                              message: str = "") -> None:
        """The kubelet's killContainer: the preStop hook (within the grace period), then SIGTERM and
        SIGKILL after what is left of the grace period (kill_grace: at least 2 s when positive)."""
        self.events.event(pod, "Normal", "Killing", message or f"Stopping container {cs.name}")
        spec = pod.get("spec") or {}
        container = next((c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
                          if c.get("name") == cs.name), None)
        handler = ((container or {}).get("lifecycle") or {}).get("preStop")
        began = self.clock.monotonic()
        if isinstance(handler, dict) and container is not None and grace > 0:
            failed = await run_hook(handler, pod, container, cs.id, self._pod_ip(pod, snap), self.runtime.exec_in,
                                    float(grace), self.clock.sleep)
            if failed:
                log.info("%s: preStop hook of %s failed: %s", key_of(pod), cs.name, failed)
                self.events.event(pod, "Warning", "FailedPreStopHook", failed)
        await self.runtime.stop(cs.id, kill_grace(grace, self.clock.monotonic() - began), self.clock.sleep)

    def _pod_ip(self, pod: Obj, snap: PodSnapshot) -> str:
        """Where probes and hooks reach the pod: the host's IP on the host network, else its sandbox's."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return self.host_ip
        return snap.sandboxes[0].ip if snap.sandboxes else ""

    async def _kill_pod(self, pod: Obj, snap: PodSnapshot, grace: int, remove: bool) -> None:
        """Stop the pod: its app containers in parallel, then its sidecars one by one in reverse
        order (as kube stops them after the main containers), then the sandbox."""
        spec = pod.get("spec") or {}
        sidecars = [str(c.get("name")) for c in spec.get("initContainers") or [] if is_sidecar(c)]
        running = [c for c in snap.containers if c.state == "running"]
        began = self.clock.monotonic()
        await asyncio.gather(*(self._stop_container(pod, snap, c, grace) for c in running if c.name not in sidecars))
        for name in reversed(sidecars):
            for c in running:
                if c.name == name:
                    await self._stop_container(pod, snap, c, kill_grace(grace, self.clock.monotonic() - began))
        await self.runtime.call(self.runtime.kill_pod, snap, remove)

    # --- probes ------------------------------------------------------------------------------

    def _track_probes(self, pod: Obj, key: str, snap: PodSnapshot) -> None:
        """Probe tasks for the pod's running containers (app containers and sidecars); the tasks of
        containers that stopped end here."""
        spec = pod.get("spec") or {}
        running = []
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            last = snap.latest(str(c.get("name")))
            if last is not None and last.state == "running":
                running.append((c, last.id, last.started_at or self.clock.now()))
        self.prober.track(str(pod["metadata"]["uid"]), key, running, self._pod_ip(pod, snap))

    def _pod_event(self, key: str, type_: str, reason: str, message: str) -> None:
        pod = self.pods.get(key)
        if pod is not None:
            self.events.event(pod, type_, reason, message)

    def _on_docker_event(self, uid: str) -> None:
        for pod in self.pods.by_index("uid", uid):
            self._enqueue(key_of(pod), "a Docker event for one of its containers")

    async def docker_events(self) -> None:
        """Docker's event stream in its own thread (it blocks), handing pod uids to the loop."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def hand_over(uid: str) -> None:
            loop.call_soon_threadsafe(self._on_docker_event, uid)

        thread = threading.Thread(target=self.runtime.watch_events, args=(hand_over, stop),
                                  name="docker-events", daemon=True)
        thread.start()
        try:
            await asyncio.Event().wait()
        finally:
            stop.set()
            self.runtime.stop_events()

    # --- housekeeping: orphans and resync ----------------------------------------------------

    async def housekeeping(self) -> None:
        """Remove our containers whose pod is gone from this node, and replay every pod."""
        await self.pods.synced.wait()
        while True:
            try:
                mine = {str((p.get("metadata") or {}).get("uid")) for p in self.pods.objects()}
                self.forget_gone(mine)
                owned = await self.runtime.call(self.runtime.list_owned)
                for c in owned:
                    if c.uid and c.uid not in mine:
                        log.info("%s/%s: pod is gone; removing its container %s", c.namespace, c.pod, c.id[:12])
                        await self.runtime.call(self.runtime.stop_now, c.id)
                        await self.runtime.call(self.runtime.remove, c.id)
                await self.volumes.housekeeping(
                    lambda: {str((p.get("metadata") or {}).get("uid")) for p in self.pods.objects()})
                for p in self.pods.objects():
                    self.triggers.setdefault(key_of(p), "resync")
                    self.queue.add(key_of(p))
            except Exception as exc:  # noqa: BLE001 - Docker away: try again next round
                log.warning("node/%s: housekeeping failed: %s: %s", self.node, type(exc).__name__, exc)
            await self.clock.sleep(self.resync)

    def forget_gone(self, mine: set[str]) -> None:
        """Forget the pods not on this node any more (`mine`: the uids the informer has), and the
        pass triggers of keys it does not have."""
        for uid in self._known - mine - self._syncing:
            self.forget_pod(uid)
        for key in [k for k in self.triggers if self.pods.get(k) is None and k not in self._passes]:
            del self.triggers[key]

    async def dispatch(self) -> None:
        """Hand each queued pod to a pass of its own (the kubelet's pod worker per pod): a pass that
        waits (a grace period, a hook, a backoff) never holds up another pod; the queue hands a key
        out again only once its pass is done.  Docker's pool bounds how much runs at once."""
        try:
            while True:
                key = str(await self.queue.get())
                task = asyncio.create_task(self._pass(key), name=f"kubelet-pod-{key}")
                self._passes[key] = task
                task.add_done_callback(self._pass_done)
        finally:
            running = list(self._passes.values())
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _pass_done(self, task: asyncio.Task[None]) -> None:
        for key in [k for k, t in self._passes.items() if t is task]:  # not the key's next pass
            del self._passes[key]

    async def _pass(self, key: str) -> None:
        trigger = self.triggers.pop(key, "resync")
        token = self.tracer.begin("kubelet", "Pod", key, trigger) if self.tracer else None
        try:
            await self.sync(key)
            self.queue.forget(key)
            if self.tracer:
                self.tracer.end(token, "synced")
        except Exception as exc:  # noqa: BLE001 - a bad pod or a lost connection is retried with backoff
            self.triggers[key] = "a retry after a failed pass"
            delay = self.queue.add_rate_limited(key, getattr(exc, "retry_after", None) or 0.0)
            level = logging.WARNING if isinstance(exc, ApiError | OSError | ContainersFailed) else logging.ERROR
            log.log(level, "%s: sync failed (%s: %s); retrying in %.1fs", key, type(exc).__name__, exc, delay)
            if self.tracer:
                self.tracer.end(token, f"{type(exc).__name__}: {exc}; requeued in {delay:.2f}s")
        finally:
            self.queue.done(key)

    def close(self) -> None:
        """The probe tasks end (the passes end with dispatch's task)."""
        self.prober.close()

    def tasks(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self.pods.run(), name="kubelet-pods"),
                asyncio.create_task(self.housekeeping(), name="kubelet-housekeeping"),
                asyncio.create_task(self.docker_events(), name="kubelet-docker-events"),
                asyncio.create_task(self.volumes.run(), name="kubelet-volumes"),
                asyncio.create_task(self.dispatch(), name="kubelet-dispatch")]


MIN_GRACE = 2  # the kubelet's minimumGracePeriodInSeconds


def kill_grace(grace: float, spent: float = 0.0) -> int:
    """The seconds between SIGTERM and SIGKILL for a kill with `grace` of which `spent` went (a
    preStop hook, the app containers before a sidecar): at least 2 s when the grace is positive
    (the kubelet's killContainer), none when it is 0."""
    return 0 if grace <= 0 else max(MIN_GRACE, int(round(grace - spent)))


def _grace_period(pod: Obj) -> int:
    """The deletion's grace period when the pod is being deleted, else its spec's (default 30 s)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    for value in (meta.get("deletionGracePeriodSeconds") if meta.get("deletionTimestamp") else None,
                  spec.get("terminationGracePeriodSeconds")):
        if value is not None:
            return int(value)
    return 30


def _describe(a: PodActions) -> str:
    parts = []
    if a.kill_pod:
        parts.append("kill pod")
    if a.create_sandbox:
        parts.append(f"create sandbox (attempt {a.attempt})")
    parts += [f"kill {k.name} ({k.message})" for k in a.kill]
    parts += [f"start {s.name} #{s.restart_count} ({s.reason})" for s in a.start]
    if a.reasons:
        parts.append("because " + "; ".join(a.reasons))
    return ", ".join(parts)
