"""The container runtime: the Docker SDK, always in a dedicated thread pool, never on the event loop.

Docker objects are named and labelled as Kubernetes' dockershim did (`k8s_<container>_<pod>_<ns>_<uid>_<attempt>`,
`k8s_POD_...` for the sandbox; labels io.kubernetes.*), plus our ownership label
`io.minikube-py.owner=<cluster-id>/<node>`: the agent lists, changes and removes only containers and
networks carrying it, so it rebuilds its state from Docker alone after a restart and never touches
anything else on a shared engine.  The sandbox is a pause container on the node's bridge network
(`minikube-py-<node>`, subnet = the Node's spec.podCIDR); app containers join its network namespace.

Called by agents/kubelet/worker.py (snapshots, actions) and agents/node.py (engine facts, network).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import ipaddress
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker
import docker.errors

from minikube_py.api import quantity
from minikube_py.client.tracing import note_docker

from .actions import ContainerSnapshot, PodSnapshot, SandboxSnapshot, container_hash

log = logging.getLogger("minikube_py.kubelet.runtime")
Obj = dict[str, Any]
T = TypeVar("T")

DOCKER_WRITES = frozenset({"create_sandbox", "start_container", "signal_stop", "stop_now", "remove", "kill_pod",
                           "pull"})
EXEC_THREADS = 8  # probes' and hooks' docker exec
WAIT_THREADS = 16  # graceful stops waiting for their container to exit
WAIT_CHUNK = 2.0  # seconds of one Docker wait call: a wait thread sees the runtime close within it
SPARE_CONNECTIONS = 4  # the event stream, the streaming server's logs and attaches

OWNER_LABEL = "io.minikube-py.owner"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
DOCKER_TYPE = "io.kubernetes.docker.type"
HASH = "annotation.io.kubernetes.container.hash"
RESTART_COUNT = "annotation.io.kubernetes.container.restartCount"
SANDBOX_ATTEMPT = "io.minikube-py.sandbox.attempt"
SANDBOX_ID = "io.kubernetes.sandbox.id"
TERMINATION_LOG = "io.minikube-py.termination-log"  # the host file bound at terminationMessagePath
TERMINATION_POLICY = "io.kubernetes.container.terminationMessagePolicy"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
MAX_MESSAGE = 4096  # the kubelet's limit on a termination message read from the file
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048  # FallbackToLogsOnError: the log's tail

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: a defined variable is replaced, `$$` is a literal `$`, and a
    reference to an undefined variable stays as written."""
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _VAR.sub(one, text)


def port_bindings(pod: Obj) -> dict[str, list[tuple[str, int]]]:
    """Docker's port bindings for the sandbox: every container port with a hostPort, on its hostIP
    (0.0.0.0 when unset), keyed `<containerPort>/<tcp|udp|sctp>` as dockershim made them."""
    out: dict[str, list[tuple[str, int]]] = {}
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return out
    for c in spec.get("containers") or []:  # the app containers only, as generatePodSandboxConfig
        for p in c.get("ports") or []:
            if not p.get("hostPort"):
                continue
            key = f"{int(p['containerPort'])}/{str(p.get('protocol') or 'TCP').lower()}"
            out.setdefault(key, []).append((str(p.get("hostIP") or "0.0.0.0"), int(p["hostPort"])))
    return out


CPU_PERIOD = 100_000  # dockershim's quota period (100 ms)
MIN_SHARES = 2


def milli_cpu_to_shares(milli: int) -> int:
    """Kubernetes' MilliCPUToShares: 1024 shares per core, never below 2."""
    return max(MIN_SHARES, milli * 1024 // 1000) if milli else MIN_SHARES


def resource_config(container: Obj) -> Obj:
    """HostConfig limits from the container's resources: limits.memory -> Memory (bytes),
    limits.cpu -> CpuQuota over a 100 ms CpuPeriod (MilliCPUToQuota, at least 1000), requests.cpu
    (defaulting to limits.cpu) -> CpuShares."""
    res = container.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    out: Obj = {}
    if limits.get("memory") is not None:
        out["mem_limit"] = quantity.to_bytes(limits["memory"])
    cpu_limit = quantity.millicores(limits["cpu"]) if limits.get("cpu") is not None else 0
    if cpu_limit:
        out["cpu_period"] = CPU_PERIOD
        out["cpu_quota"] = max(1000, cpu_limit * CPU_PERIOD // 1000)
    request = requests.get("cpu", limits.get("cpu"))
    out["cpu_shares"] = milli_cpu_to_shares(quantity.millicores(request) if request is not None else 0)
    return out


def docker_name(pod: Obj, container: str, attempt: int) -> str:
    m = pod["metadata"]
    return f"k8s_{container}_{m['name']}_{m.get('namespace') or 'default'}_{m['uid']}_{attempt}"


def network_name(owner: str) -> str:
    """`minikube-py-<node>-<first 8 of the cluster id>`: two clusters sharing one engine (with the same
    node name, the host's) never share a network name."""
    cluster, _, node = owner.partition("/")
    return f"minikube-py-{node}-{cluster[:8]}"


def _epoch(stamp: str | None) -> float | None:
    """Docker's RFC 3339 nanosecond times as epoch seconds (None for its zero time)."""
    if not stamp or stamp.startswith("0001-"):
        return None
    main, _, frac = stamp.rstrip("Z").partition(".")
    frac = frac.split("+")[0].split("-")[0]
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (float("0." + frac) if frac else 0.0)


class SandboxImageMissing(Exception):
    """The pause image is not on this node (never pulled for a sandbox: it is built offline)."""


class StartFailed(Exception):
    """The container was created but Docker could not start it (the kubelet's RunContainerError):
    a command that does not exist, a mount that fails, ..."""


@dataclass
class ContainerExtras:
    """What the pod worker adds to one app container beyond its own spec: bind mounts (volumes,
    /etc/hosts, the termination log), extra HostConfig and create_container keywords (security
    context, ...).  Each feature fills in its part; start_container passes them to Docker."""
    binds: list[str] = field(default_factory=list)  # "host-path:container-path[:ro]"
    host_config: Obj = field(default_factory=dict)  # extra create_host_config keywords
    config: Obj = field(default_factory=dict)  # extra create_container keywords
    labels: dict[str, str] = field(default_factory=dict)  # extra labels (where the termination log is, ...)


@dataclass(frozen=True)
class OwnedContainer:
    """What listing by our label says of one container (enough to find orphans)."""
    id: str
    uid: str
    namespace: str
    pod: str
    running: bool


class DockerRuntime:
    def __init__(self, owner: str, node: str, *, workers: int = 4,
                 client_factory: Callable[[], Any] | None = None) -> None:
        self.owner = owner  # <cluster-id>/<node>
        self.node = node
        self.network = network_name(owner)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")
        # probes and hooks exec in their own threads: a command that hangs past its timeout keeps
        # its thread (Docker cannot cancel an exec) but never starves the pod workers' calls; the
        # prober starts at most one exec per probe at a time (agents/kubelet/probes.py)
        self._exec_pool = ThreadPoolExecutor(max_workers=EXEC_THREADS, thread_name_prefix="docker-exec")
        # a graceful stop waits for its container's exit here, never in the pool above
        self._wait_pool = ThreadPoolExecutor(max_workers=WAIT_THREADS, thread_name_prefix="docker-wait")
        self._closing = threading.Event()
        connections = workers + EXEC_THREADS + WAIT_THREADS + SPARE_CONNECTIONS  # one per thread that may call
        self._factory = client_factory or (lambda: docker.from_env(max_pool_size=connections, timeout=120))
        self._client: Any = None
        self._event_stream: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking Docker call in the pool; the ones that change something are written into the
        reconcile trace of the pass (when somebody watches), as the controllers' API writes are."""
        if getattr(fn, "__name__", "") not in DOCKER_WRITES:
            return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args))
        what = getattr(fn, "__name__", "call")
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args))
        except Exception as exc:
            note_docker(what, f"{type(exc).__name__}: {exc}")
            raise
        note_docker(what, f"ok {str(result)[:12]}" if isinstance(result, str) and result else "ok")
        return result

    async def exec_in(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """exec_command in the exec threads (probes and hooks)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._exec_pool, lambda: self.exec_command(container_id, command))

    def close(self) -> None:
        self._closing.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._exec_pool.shutdown(wait=False, cancel_futures=True)
        self._wait_pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _labels(self, pod: Obj, **extra: str) -> dict[str, str]:
        m = pod["metadata"]
        return {OWNER_LABEL: self.owner, POD_NAME: str(m["name"]), POD_NAMESPACE: str(m.get("namespace") or "default"),
                POD_UID: str(m["uid"]), **extra}

    # --- facts about the engine ------------------------------------------------------------

    def info(self) -> Obj:
        info: Obj = self.client.info()
        info["_version"] = self.client.version()
        return info

    # --- the node's network ----------------------------------------------------------------

    def ensure_network(self, pod_cidr: str) -> str:
        """The node's bridge network with its podCIDR (gateway .1, no masquerade), created when missing;
        one of ours with the subnet is kept whatever its name (one an older version named), one with
        another subnet (the podCIDR changed) is replaced when no container uses it."""
        subnet = str(ipaddress.ip_network(pod_cidr, strict=False))
        gateway = str(ipaddress.ip_network(subnet).network_address + 1)
        for net in self.client.networks.list(filters={"label": f"{OWNER_LABEL}={self.owner}"}):
            configs = (net.attrs.get("IPAM") or {}).get("Config") or []
            if any(c.get("Subnet") == subnet for c in configs):
                self.network = str(net.name)
                return str(net.id)
            net.reload()
            if not net.attrs.get("Containers"):
                net.remove()
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=gateway)])
        net = self.client.networks.create(self.network, driver="bridge", ipam=ipam, labels={OWNER_LABEL: self.owner},
                                          options={"com.docker.network.bridge.enable_ip_masquerade": "false"})
        log.info("node/%s: created network %s (%s)", self.node, self.network, subnet)
        return str(net.id)

    def remove_network(self) -> None:
        for net in self.client.networks.list(names=[self.network], filters={"label": f"{OWNER_LABEL}={self.owner}"}):
            try:
                net.remove()
            except docker.errors.APIError as exc:
                log.warning("network %s: not removed: %s", net.name, exc)

    # --- what Docker has -------------------------------------------------------------------

    def list_owned(self) -> list[OwnedContainer]:
        out = []
        for c in self.client.api.containers(all=True, filters={"label": f"{OWNER_LABEL}={self.owner}"}):
            labels = c.get("Labels") or {}
            out.append(OwnedContainer(str(c["Id"]), labels.get(POD_UID, ""), labels.get(POD_NAMESPACE, ""),
                                      labels.get(POD_NAME, ""), c.get("State") == "running"))
        return out

    def snapshot(self, uid: str) -> PodSnapshot:
        """The pod's sandboxes (newest first) and containers, from our labels and Docker's state only."""
        found = self.client.api.containers(all=True, filters={"label": [f"{OWNER_LABEL}={self.owner}",
                                                                       f"{POD_UID}={uid}"]})
        sandboxes: list[SandboxSnapshot] = []
        containers: list[ContainerSnapshot] = []
        for item in found:
            try:
                c = self.client.api.inspect_container(item["Id"])
            except docker.errors.NotFound:
                continue
            labels = (c.get("Config") or {}).get("Labels") or {}
            state = c.get("State") or {}
            if labels.get(DOCKER_TYPE) == "podsandbox":
                nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
                ip = (nets.get(self.network) or {}).get("IPAddress") or ""
                if (c.get("HostConfig") or {}).get("NetworkMode") == "host":
                    ip = ""
                sandboxes.append(SandboxSnapshot(str(c["Id"]), bool(state.get("Running")),
                                                 int(labels.get(SANDBOX_ATTEMPT, "0") or 0), ip,
                                                 _epoch(c.get("Created")) or 0.0))
                continue
            status = str(state.get("Status") or "unknown")
            finished = _epoch(state.get("FinishedAt"))
            if status == "created" and state.get("Error"):
                # a start that failed (a command that does not exist, ...): it ran and ended, as the
                # kubelet sees it (StartError), so the restart policy and crash-loop backoff apply
                status, finished = "exited", finished or _epoch(c.get("Created"))
            containers.append(ContainerSnapshot(
                id=str(c["Id"]), name=labels.get(CONTAINER_NAME, ""),
                state={"running": "running", "created": "created", "exited": "exited", "dead": "exited",
                       "paused": "running", "restarting": "running"}.get(status, "unknown"),
                restart_count=int(labels.get(RESTART_COUNT, "0") or 0), spec_hash=labels.get(HASH, ""),
                exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
                started_at=_epoch(state.get("StartedAt")), finished_at=finished,
                image=str((c.get("Config") or {}).get("Image") or ""), image_id=str(c.get("Image") or ""),
                error=str(state.get("Error") or ""), oom_killed=bool(state.get("OOMKilled")),
                sandbox_id=labels.get(SANDBOX_ID, ""),
                message=self._termination_message(str(c["Id"]), labels, state) if status in ("exited", "dead")
                else ""))
        sandboxes.sort(key=lambda s: (s.attempt, s.created_at), reverse=True)
        return PodSnapshot(uid, tuple(sandboxes), tuple(containers))

    def _termination_message(self, container_id: str, labels: dict[str, str], state: Obj) -> str:
        """What an exited container left at its terminationMessagePath; under FallbackToLogsOnError
        and a non-zero exit with no message, the tail of its log."""
        message = ""
        path = labels.get(TERMINATION_LOG)
        if path:
            try:
                with open(path, "rb") as f:
                    message = f.read(MAX_MESSAGE).decode(errors="replace")
            except OSError:
                pass
        if not message and labels.get(TERMINATION_POLICY) == "FallbackToLogsOnError" and state.get("ExitCode"):
            try:
                tail = self.client.api.logs(container_id, stdout=True, stderr=True, tail=FALLBACK_LINES)
            except docker.errors.APIError:
                return ""
            message = tail[-FALLBACK_BYTES:].decode(errors="replace")
        return message

    def watch_events(self, on_uid: Callable[[str], None], stop: threading.Event) -> None:
        """Docker's event stream for our containers (blocking: run it in its own thread): a container
        of a pod that starts, dies or goes away calls `on_uid(pod uid)`; reconnects until `stop`."""
        while not stop.is_set():
            stream: Any = None
            try:
                stream = self.client.events(decode=True, filters={"type": "container",
                                                                  "label": f"{OWNER_LABEL}={self.owner}"})
                self._event_stream = stream
                for event in stream:
                    if stop.is_set():
                        break
                    attrs = (event.get("Actor") or {}).get("Attributes") or {}
                    if event.get("status") in ("start", "die", "oom", "destroy") and attrs.get(POD_UID):
                        on_uid(str(attrs[POD_UID]))
            except Exception as exc:  # noqa: BLE001 - Docker away: reconnect
                if not stop.is_set():
                    log.warning("node/%s: Docker event stream lost (%s: %s); reconnecting", self.node,
                                type(exc).__name__, exc)
                    stop.wait(2.0)
            finally:
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()

    def stop_events(self) -> None:
        stream, self._event_stream = self._event_stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    # --- actions ---------------------------------------------------------------------------

    def _remove_named(self, name: str) -> None:
        """A container left with the name we need (a create that failed half-way): ours only."""
        try:
            old = self.client.api.inspect_container(name)
        except docker.errors.NotFound:
            return
        if ((old.get("Config") or {}).get("Labels") or {}).get(OWNER_LABEL) == self.owner:
            self.client.api.remove_container(old["Id"], force=True)

    def create_sandbox(self, pod: Obj, attempt: int, mounts: list[Obj] | None = None) -> str:
        """The pause container; `mounts` are Docker-volume mounts it holds for the pod's life (a
        tmpfs volume is unmounted, and its files lost, when no container uses it)."""
        spec = pod.get("spec") or {}
        name = docker_name(pod, "POD", attempt)
        self._remove_named(name)
        host = bool(spec.get("hostNetwork"))
        kwargs: Obj = {"network_mode": "host"} if host else {"network": self.network,
                                                            "hostname": str(pod["metadata"]["name"])[:63]}
        ports = port_bindings(pod)
        if ports:
            kwargs["ports"] = ports
        if mounts:
            kwargs["mounts"] = mounts
        try:  # create + start, never `run`: the SDK's run pulls a missing image, whatever the registry switch
            c = self.client.containers.create(
                PAUSE_IMAGE, name=name, detach=True,
                labels=self._labels(pod, **{CONTAINER_NAME: "POD", DOCKER_TYPE: "podsandbox",
                                            SANDBOX_ATTEMPT: str(attempt)}), **kwargs)
        except docker.errors.ImageNotFound:
            raise SandboxImageMissing(f"the pause image {PAUSE_IMAGE} is not on this node: build it with "
                                      "`minikube-py image build-offline --only pause`") from None
        try:
            c.start()
        except docker.errors.APIError:
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
            raise
        return str(c.id)

    def sandbox_ip(self, sandbox_id: str) -> str:
        """The sandbox's address on the node's network ("" on the host network or when gone)."""
        try:
            c = self.client.api.inspect_container(sandbox_id)
        except docker.errors.NotFound:
            return ""
        nets = (c.get("NetworkSettings") or {}).get("Networks") or {}
        return str((nets.get(self.network) or {}).get("IPAddress") or "")

    def start_container(self, pod: Obj, container: Obj, restart_count: int, sandbox_id: str,
                        env: dict[str, str] | None = None, extras: ContainerExtras | None = None) -> str:
        """Create and start one app container in the sandbox's namespaces; `env` is the computed
        environment (agents/kubelet/env.py); `extras` what the worker adds (mounts, security settings)."""
        extras = extras or ContainerExtras()
        cname = str(container["name"])
        name = docker_name(pod, cname, restart_count)
        self._remove_named(name)
        env = env or {}
        command = [expand(str(x), env) for x in container.get("command") or []] or None
        args = [expand(str(x), env) for x in container.get("args") or []] or None
        labels = self._labels(pod, **{CONTAINER_NAME: cname, DOCKER_TYPE: "container", SANDBOX_ID: sandbox_id,
                                      HASH: container_hash(container), RESTART_COUNT: str(restart_count),
                                      **extras.labels})
        created = self.client.api.create_container(
            str(container.get("image")), name=name, labels=labels, entrypoint=command, command=args,
            environment=env or None, working_dir=container.get("workingDir") or None,
            stdin_open=bool(container.get("stdin")), tty=bool(container.get("tty")),
            # the SDK sets StdinOnce with stdin unless detached: only the spec's stdinOnce may close stdin
            # after the first attach (`kubectl run -i` sets it; a plain `stdin: true` keeps it open)
            detach=not container.get("stdinOnce"), **extras.config,
            host_config=self.client.api.create_host_config(network_mode=f"container:{sandbox_id}",
                                                           binds=extras.binds or None,
                                                           **resource_config(container), **extras.host_config))
        cid = str(created["Id"])
        try:
            self.client.api.start(cid)
        except docker.errors.APIError as exc:
            raise StartFailed(str(exc.explanation or exc)) from exc
        return cid

    def image_user(self, image: str) -> str | None:
        """The image's configured user ("" for root by default); None when the image is not here."""
        try:
            attrs = self.client.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return None
        return str((attrs.get("Config") or {}).get("User") or "")

    def pull(self, image: str, auth: Obj | None) -> int:
        """Pull from the image's registry (registries on only); returns the image's size in bytes."""
        self.client.api.pull(image, auth_config=auth)  # the SDK splits the tag or digest off (latest if none)
        return int(self.client.api.inspect_image(image).get("Size") or 0)

    def exec_command(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Run a command in a running container (probes and hooks): its exit code and output
        (stdout and stderr, at most 10 KiB as the kubelet keeps); -1 when the container is gone."""
        try:
            created = self.client.api.exec_create(container_id, command, stdout=True, stderr=True)
            output = self.client.api.exec_start(created["Id"])
            code = self.client.api.exec_inspect(created["Id"]).get("ExitCode")
        except docker.errors.NotFound:
            return -1, "container not found"
        except docker.errors.APIError as exc:
            return -1, str(exc.explanation or exc)
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        return (int(code) if code is not None else -1), text[:10240]

    async def stop(self, container_id: str, grace: int, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Docker's stop without holding a pool thread for the grace period: the stop signal through
        the pool, the wait for the exit in the wait threads against `sleep(grace)` (the injectable
        clock's), then SIGKILL if it still runs.  `grace` <= 0 kills at once."""
        if grace > 0 and await self.call(self.signal_stop, container_id):
            loop = asyncio.get_running_loop()
            exited = loop.run_in_executor(self._wait_pool, self.wait_exit, container_id, grace + 5.0)
            timer: asyncio.Future[Any] = asyncio.ensure_future(sleep(grace))
            try:
                await asyncio.wait([exited, timer], return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            if exited.done() and not exited.cancelled() and exited.result():
                return
            exited.cancel()  # still queued for a wait thread: not needed any more
        await self.call(self.stop_now, container_id)

    def signal_stop(self, container_id: str) -> bool:
        """Send the container its stop signal (the image's STOPSIGNAL, else SIGTERM, as Docker's stop
        does); False when it does not run (or is gone)."""
        try:
            attrs = self.client.api.inspect_container(container_id)
            if not (attrs.get("State") or {}).get("Running"):
                return False
            self.client.api.kill(container_id, signal=(attrs.get("Config") or {}).get("StopSignal") or "SIGTERM")
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # it stopped in between ("is not running")
                return False
            raise
        return True

    def wait_exit(self, container_id: str, limit: float) -> bool:
        """Block until the container is not running (True), or `limit` seconds passed or the runtime
        closes (False): the wait threads' call, in short Docker waits so that closing never waits
        for a grace period."""
        deadline = time.monotonic() + limit
        while not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.client.api.wait(container_id, timeout=min(left, WAIT_CHUNK))
                return True
            except docker.errors.NotFound:
                return True
            except Exception:  # noqa: BLE001 - this chunk's read timeout (or Docker away): wait on
                self._closing.wait(0.1)
        return False

    def stop_now(self, container_id: str) -> None:
        """SIGKILL, and wait until Docker saw it exit (a quick call)."""
        try:
            self.client.api.stop(container_id, timeout=0)
        except docker.errors.NotFound:
            pass

    def remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass

    def kill_pod(self, snapshot: PodSnapshot, remove: bool = False) -> None:
        """Kill what still runs of the pod (its graceful stop is the worker's, before this), then
        the sandbox; removed too when the pod is going away."""
        running = [c.id for c in snapshot.containers if c.state == "running"]
        with ThreadPoolExecutor(max_workers=max(1, min(4, len(running)))) as pool:
            list(pool.map(self.stop_now, running))
        for s in snapshot.sandboxes:
            if s.ready:
                self.stop_now(s.id)
        if remove:
            for c in snapshot.containers:
                self.remove(c.id)
            for s in snapshot.sandboxes:
                self.remove(s.id)

    def garbage_collect(self, snapshot: PodSnapshot) -> None:
        """Keep the latest attempt of each container (its lastState) and the newest sandbox."""
        latest = {c.name: snapshot.latest(c.name) for c in snapshot.containers}
        for c in snapshot.containers:
            keep = latest.get(c.name)
            if c.state != "running" and keep is not None and c.id != keep.id:
                prev = [x for x in snapshot.containers if x.name == c.name and x.id != keep.id]
                newest_prev = max(prev, key=lambda x: x.restart_count)
                if c.id != newest_prev.id:
                    self.remove(c.id)
        for s in snapshot.sandboxes[1:]:
            if not s.ready:
                self.remove(s.id)
