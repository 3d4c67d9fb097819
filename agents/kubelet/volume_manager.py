"""The node's volume manager: sets up each pod's volumes before its containers start, keeps the
files of configMap / secret / downwardAPI / projected volumes current, and removes a pod's volumes
once its containers are gone.

- Every pass of a pod worker calls `setup(pod)`; it is cheap when nothing changed (the payload of
  each volume is compared in memory with the last one written; files are rewritten only on change,
  through the atomic writer).  A volume that cannot be set up emits the kubelet's `FailedMount`
  event and raises VolumesNotReady: the pod waits (ContainerCreating) and is retried with backoff.
- ConfigMaps and Secrets used by volumes are watched one by one (an informer per object with the
  field selector metadata.name=<name>, as the kubelet's watch-based change detection), shared by
  the pods that use them and stopped when none does.  A change enqueues those pods, so a file is
  updated within a second or two; the pods' periodic resync catches anything missed.  At rest this
  costs one open watch per object and no requests.
- persistentVolumeClaim: the claim must be Bound; its PV's hostPath (or local path) is mounted.  A
  PV of our own local-path provisioner lives under the agent's data dir (`<data-dir>/local-path/`,
  this node's view of /var/lib/minikube-py/local-path: everything the agent creates stays in its
  data dir), created when missing; its directory is removed once the PV is deleted (a watch of
  this node's PVs, by the provisioner's node label).
- emptyDir `medium: Memory` is a Docker volume (driver local, type tmpfs) labelled as ours and
  shared by the pod's containers.
- Cleanup (`cleanup(uid)` once a deleted pod's containers are removed; `housekeeping(live uids)` for
  pods gone while the agent was away): the pod dir and our Docker volumes of the pod.

File-system and Docker work runs in the runtime's thread pool, never on the event loop.
Called by agents/kubelet/worker.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from minikube_py.api import kinds
from minikube_py.api.errors import ApiError, NotFound
from minikube_py.client.aio import ApiClient
from minikube_py.client.clock import SYSTEM, Clock
from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import Informer, key_of
from minikube_py.controllers.volumes import LOCAL_PATH_ROOT, PROVISIONER

from . import atomic_writer
from . import volumes as vol
from .env import PodFacts
from .runtime import OWNER_LABEL, POD_NAME, POD_NAMESPACE, POD_UID, DockerRuntime
from .volumes import ATOMIC, Obj, Prepared, VolumeError, check_host_path, plugin_of, volume_dir

log = logging.getLogger("minikube_py.kubelet.volumes")
CONFIGMAP = kinds.require("v1", "ConfigMap")
SECRET = kinds.require("v1", "Secret")
PVC = kinds.require("v1", "PersistentVolumeClaim")
PV = kinds.require("v1", "PersistentVolume")
NODE = kinds.require("v1", "Node")
ObjectKey = tuple[str, str, str]  # (kind, namespace, name)
SYNC_TIMEOUT = 10.0


class VolumesNotReady(Exception):
    """Some volume of the pod could not be set up (FailedMount events say which and why)."""


@dataclass
class _Watch:
    informer: Informer
    task: asyncio.Task[None]
    uids: set[str] = field(default_factory=set)


@dataclass
class PodVolumes:
    """What setup() made of one pod's volumes, by volume name."""
    prepared: dict[str, Prepared]

    def sandbox_mounts(self) -> list[Obj]:
        """The Memory emptyDirs, mounted in the pod's sandbox too: the tmpfs (and its files) then
        lives as long as the pod, not only while some app container runs."""
        return [{"Target": f"/volumes/{p.name}", "Source": p.docker_volume, "Type": "volume", "ReadOnly": False}
                for p in self.prepared.values() if p.docker_volume]


def _digest(files: dict[str, atomic_writer.FileProjection]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\0{files[path].mode}\0".encode())
        h.update(files[path].data)
        h.update(b"\0")
    return h.hexdigest()


def docker_volume_name(uid: str, volume: str) -> str:
    return f"k8s_{volume}_{uid}"


class VolumeManager:
    def __init__(self, client: ApiClient, runtime: DockerRuntime, events: EventRecorder, *, data_dir: Path,
                 node: str, pod_dir: Callable[[str], Path], on_change: Callable[[str], None],
                 allow_privileged: bool = False, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.runtime = runtime
        self.events = events
        self.data_dir = data_dir
        self.local_path_root = data_dir / "local-path"
        self.node = node
        self.pod_dir = pod_dir
        self.on_change = on_change  # a pod uid whose volumes' objects changed
        self.allow_privileged = allow_privileged  # hostPaths that hand a pod the host are refused unless set
        self.clock = clock
        self._watches: dict[ObjectKey, _Watch] = {}
        self._refs: dict[str, set[ObjectKey]] = {}
        self._written: dict[tuple[str, str], str] = {}  # (uid, volume) -> digest of the files on disk
        self._mounted: dict[tuple[str, str], Prepared] = {}  # (uid, volume) -> set up (all but the API's files)
        self._allocatable: tuple[float, Obj] | None = None
        self._warned: set[tuple[str, str]] = set()  # (uid, volume) told about sources left out
        # the PVs our local-path provisioner made for this node (it labels them with the node)
        self.local_pvs = Informer(client, PV, label_selector=f"minikube-py/node={node}", clock=clock)
        self.local_pvs.add_handler(self._on_pv)
        self._pvs_gone: asyncio.Queue[str] = asyncio.Queue()

    # --- the objects the pods' volumes read --------------------------------------------------

    def _watch(self, key: ObjectKey, uid: str) -> _Watch:
        w = self._watches.get(key)
        if w is None:
            kind, namespace, name = key
            informer = Informer(self.client, CONFIGMAP if kind == "ConfigMap" else SECRET, namespace=namespace,
                                field_selector=f"metadata.name={name}", clock=self.clock)
            informer.add_handler(self._handler(key))
            task = asyncio.create_task(informer.run(), name=f"kubelet-watch-{kind.lower()}-{namespace}-{name}")
            w = self._watches[key] = _Watch(informer, task)
        w.uids.add(uid)
        return w

    def _handler(self, key: ObjectKey) -> Callable[[str, Obj, Obj | None], None]:
        return lambda _kind, _obj, _old: self._changed(key)

    def _changed(self, key: ObjectKey) -> None:
        w = self._watches.get(key)
        for uid in sorted(w.uids if w else ()):
            self.on_change(uid)

    def _track(self, uid: str, keys: set[ObjectKey]) -> None:
        """The pod now reads `keys`: stop watching what no pod reads any more."""
        for key in self._refs.get(uid, set()) - keys:
            w = self._watches.get(key)
            if w is not None:
                w.uids.discard(uid)
                if not w.uids:
                    w.task.cancel()
                    del self._watches[key]
        if keys:
            self._refs[uid] = keys
        else:
            self._refs.pop(uid, None)

    async def _objects(self, uid: str, pod: Obj) -> dict[ObjectKey, Obj | None]:
        keys = vol.referenced_objects(pod)
        watches = {key: self._watch(key, uid) for key in keys}
        self._track(uid, keys)
        out: dict[ObjectKey, Obj | None] = {}
        for key, w in watches.items():
            if not w.informer.synced.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.informer.synced.wait(), SYNC_TIMEOUT)
            if w.informer.synced.is_set():  # else left out: not known yet is not "not found"
                out[key] = w.informer.get(f"{key[1]}/{key[2]}")
        return out

    async def _facts(self, pod: Obj) -> PodFacts:
        if not vol.needs_allocatable(pod):
            return PodFacts()
        now = self.clock.monotonic()
        if self._allocatable is None or now - self._allocatable[0] > 60.0:
            try:
                node = await self.client.get(NODE, None, self.node)
                self._allocatable = (now, dict((node.get("status") or {}).get("allocatable") or {}))
            except ApiError as exc:
                log.debug("node/%s: allocatable unknown (%s)", self.node, exc)
                return PodFacts()
        return PodFacts(allocatable=self._allocatable[1])

    # --- setting a pod's volumes up ------------------------------------------------------------

    async def setup(self, pod: Obj) -> PodVolumes:
        """Every volume of the pod, ready to mount; raises VolumesNotReady after a FailedMount
        event for each volume that is not."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid"))
        volumes = list((pod.get("spec") or {}).get("volumes") or [])
        objects = await self._objects(uid, pod)
        facts = await self._facts(pod) if any(plugin_of(v) in ATOMIC for v in volumes) else PodFacts()
        prepared: dict[str, Prepared] = {}
        failed: list[VolumeError] = []
        for v in volumes:
            name = str(v.get("name"))
            try:
                if plugin_of(v) in ATOMIC:  # every pass: the files follow their sources
                    prepared[name] = await self._atomic(pod, uid, v, objects, facts)
                    continue
                once = self._mounted.get((uid, name))  # the others are set up once per pod, as mounts are
                if once is None:
                    once = self._mounted[(uid, name)] = await self._mount(pod, uid, v)
                prepared[name] = once
            except VolumeError as exc:
                failed.append(exc)
        for err in failed:
            self.events.event(pod, "Warning", "FailedMount", err.event_message())
        if failed:
            raise VolumesNotReady("; ".join(f"{e.volume}: {e.message}" for e in failed))
        return PodVolumes(prepared)

    async def _mount(self, pod: Obj, uid: str, v: Obj) -> Prepared:
        name = str(v.get("name"))
        kind = plugin_of(v)
        pod_dir = self.pod_dir(uid)
        if kind == "emptyDir":
            if (v.get("emptyDir") or {}).get("medium") == "Memory":
                return Prepared(name, docker_volume=await self.runtime.call(self._memory_volume, pod, v))
            path = volume_dir(pod_dir, kind, name)
            await self.runtime.call(_volume_dir, pod_dir, path, 0o777)  # any container user may write, as the kubelet's
            return Prepared(name, host_path=str(path))
        if kind == "hostPath":
            source = v["hostPath"] or {}
            host = str(source.get("path") or "")
            self._refuse_the_host(name, host)
            try:
                await self.runtime.call(check_host_path, host, source.get("type"))
            except (ValueError, OSError) as exc:
                raise VolumeError(name, str(exc)) from exc
            return Prepared(name, host_path=host)
        if kind == "persistentVolumeClaim":
            return await self._claim(pod, v)
        raise VolumeError(name, f"volume source {kind or '(none)'} is not supported by this node")

    async def _atomic(self, pod: Obj, uid: str, v: Obj, objects: dict[ObjectKey, Obj | None],
                      facts: PodFacts) -> Prepared:
        name = str(v.get("name"))
        kind = plugin_of(v)
        pod_dir = self.pod_dir(uid)
        for key in vol.referenced_objects({"metadata": pod.get("metadata"), "spec": {"volumes": [v]}}):
            if key not in objects:  # the kubelet's words when its watch-based cache is not ready
                raise VolumeError(name, f"failed to sync {key[0].lower()} cache: timed out waiting for the condition")

        def lookup(k: str, ns: str, n: str) -> Obj | None:
            return objects.get((k, ns, n))
        projection = vol.payload(v, pod, lookup, facts)
        if projection.skipped and (uid, name) not in self._warned:
            self._warned.add((uid, name))
            self.events.event(pod, "Warning", "VolumeSourceSkipped",
                              f'projected volume "{name}": {", ".join(projection.skipped)} not served by this '
                              f"node yet; left out")
        path = volume_dir(pod_dir, kind, name)
        digest = _digest(projection.files)
        if self._written.get((uid, name)) != digest:
            try:
                changed = await self.runtime.call(self._write_files, pod_dir, path, projection.files)
            except OSError as exc:  # two items on one path as file and directory, a full disk...
                raise VolumeError(name, f"failed to write the volume's files: {exc}") from exc
            if changed:
                log.info("%s: volume %s: files written (%d)", key_of(pod), name, len(projection.files))
            self._written[(uid, name)] = digest
        return Prepared(name, host_path=str(path), read_only=True)

    def _write_files(self, pod_dir: Path, path: Path, files: dict[str, atomic_writer.FileProjection]) -> bool:
        _volume_dir(pod_dir, path, 0o755)
        return atomic_writer.write(path, files, now=self.clock.now())

    async def _claim(self, pod: Obj, v: Obj) -> Prepared:
        name = str(v.get("name"))
        source = v["persistentVolumeClaim"] or {}
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        claim_name = str(source.get("claimName") or "")
        what = f"error processing PVC {namespace}/{claim_name}"
        try:
            claim = await self.client.get(PVC, namespace, claim_name)
        except NotFound as exc:
            raise VolumeError(name, f"{what}: failed to fetch PVC from API server: {exc}", process=True) from exc
        pv_name = str((claim.get("spec") or {}).get("volumeName") or "")
        if (claim.get("status") or {}).get("phase") != "Bound" or not pv_name:
            raise VolumeError(name, f"{what}: PVC is not bound", process=True)
        try:
            pv = await self.client.get(PV, None, pv_name)
        except NotFound as exc:
            raise VolumeError(name, f"{what}: failed to fetch PV {pv_name} from API server: {exc}",
                              process=True) from exc
        spec = pv.get("spec") or {}
        read_only = bool(source.get("readOnly"))
        if spec.get("hostPath"):
            path, kind = str(spec["hostPath"].get("path") or ""), spec["hostPath"].get("type")
            ours = ((pv.get("metadata") or {}).get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") \
                == PROVISIONER
            if ours and path.startswith(LOCAL_PATH_ROOT + "/"):
                path, kind = str(self.local_path_root / path[len(LOCAL_PATH_ROOT) + 1:]), "DirectoryOrCreate"
        elif spec.get("local"):
            path, kind = str(spec["local"].get("path") or ""), "Directory"
        else:
            raise VolumeError(name, f"persistentvolume {pv_name}: only hostPath and local volumes are supported "
                                    f"on this node")
        self._refuse_the_host(name, path)
        try:
            await self.runtime.call(check_host_path, path, kind)
        except (ValueError, OSError) as exc:
            raise VolumeError(name, str(exc)) from exc
        return Prepared(name, host_path=path, read_only=read_only)

    def _refuse_the_host(self, volume: str, path: str) -> None:
        if not self.allow_privileged and vol.hands_over_the_host(path):
            raise VolumeError(volume, f"hostPath {path} would hand the pod the host (/ or Docker's socket): "
                                      f"refused, this node does not allow privileged pods")

    def _memory_volume(self, pod: Obj, v: Obj) -> str:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        name = docker_volume_name(uid, str(v["name"]))
        size = vol.memory_size(v, pod)
        opts = {"type": "tmpfs", "device": "tmpfs"}
        if size:
            opts["o"] = f"size={size}"
        try:
            self.runtime.client.volumes.get(name)
        except docker.errors.NotFound:
            self.runtime.client.volumes.create(
                name=name, driver="local", driver_opts=opts,
                labels={OWNER_LABEL: self.runtime.owner, POD_UID: uid, POD_NAME: str(meta["name"]),
                        POD_NAMESPACE: str(meta.get("namespace") or "default")})
        return name

    # --- cleanup ----------------------------------------------------------------------------

    def forget(self, uid: str) -> None:
        self._track(uid, set())
        for key in [k for k in self._written if k[0] == uid]:
            del self._written[key]
        for key in [k for k in self._mounted if k[0] == uid]:
            del self._mounted[key]
        self._warned = {k for k in self._warned if k[0] != uid}

    async def cleanup(self, uid: str) -> None:
        """The pod's containers are removed: its dir and our Docker volumes go too."""
        self.forget(uid)
        await self.runtime.call(self._remove_pod_files, uid)

    def _remove_pod_files(self, uid: str) -> None:
        for dv in self.runtime.client.volumes.list(filters={"label": [f"{OWNER_LABEL}={self.runtime.owner}",
                                                                       f"{POD_UID}={uid}"]}):
            try:
                dv.remove(force=True)
            except docker.errors.APIError as exc:
                log.warning("pod uid %s: volume %s not removed yet: %s", uid, dv.name, exc)
        path = self.pod_dir(uid)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            log.info("pod uid %s: pod dir removed", uid)

    async def housekeeping(self, live: Callable[[], set[str]]) -> None:
        """Remove the files and Docker volumes of pods gone from this node (their containers are
        gone already), and the directories of our local-path volumes whose PV was deleted."""
        found = await self.runtime.call(self._pod_uids_on_disk)
        for uid in found - live():
            await self.cleanup(uid)
        for uid in set(self._refs) - live():
            self.forget(uid)
        await self._local_path_housekeeping()

    def _pod_uids_on_disk(self) -> set[str]:
        uids = set()
        pods = self.data_dir / "pods"  # where PodWorkers.pod_dir puts each pod's dir
        if pods.is_dir():
            uids |= {p.name for p in pods.iterdir() if p.is_dir()}
        for dv in self.runtime.client.volumes.list(filters={"label": f"{OWNER_LABEL}={self.runtime.owner}"}):
            uid = (dv.attrs.get("Labels") or {}).get(POD_UID)
            if uid:
                uids.add(str(uid))
        return uids

    async def _local_path_housekeeping(self) -> None:
        """Directories of our local-path volumes whose PV is gone (deleted while the agent was away,
        or a removal that failed), once the PVs of this node are known."""
        if not self.local_pvs.synced.is_set():
            return
        entries = await self.runtime.call(self._local_entries, "pvc-*")
        existing = {str(pv["metadata"]["name"]) for pv in self.local_pvs.objects()}
        for entry in entries:
            pv_name = entry.split("_", 1)[0]
            if pv_name.startswith("pvc-") and pv_name not in existing:
                await self._remove_local_path(pv_name, entry)

    async def _remove_local_path(self, pv_name: str, entry: str) -> None:
        path = self.local_path_root / entry
        if str(path) in {p.host_path for p in self._mounted.values()}:
            return  # a pod of ours still mounts it: removed once that pod is gone
        log.info("persistentvolume/%s: deleted; removing its directory on node %s", pv_name, self.node)
        await self.runtime.call(shutil.rmtree, path, True)

    def _local_entries(self, pattern: str) -> list[str]:
        return sorted(p.name for p in self.local_path_root.glob(pattern)) if self.local_path_root.is_dir() else []

    def _on_pv(self, kind: str, pv: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            self._pvs_gone.put_nowait(str(pv["metadata"]["name"]))

    async def _reclaim(self) -> None:
        """A deleted PV of our provisioner on this node: its directory goes (reclaimPolicy Delete)."""
        while True:
            pv_name = await self._pvs_gone.get()
            try:
                entries = await self.runtime.call(self._local_entries, f"{pv_name}_*")
                for entry in entries:
                    await self._remove_local_path(pv_name, entry)
            except OSError as exc:
                log.warning("persistentvolume/%s: directory not removed (%s); housekeeping retries", pv_name, exc)

    async def run(self) -> None:
        """Watches this node's local-path PVs (to remove the directory of a deleted one) and holds
        the ConfigMap/Secret watches; cancelling it stops them all."""
        tasks = [asyncio.create_task(self.local_pvs.run(), name="kubelet-local-pvs"),
                 asyncio.create_task(self._reclaim(), name="kubelet-local-pv-reclaim")]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for w in self._watches.values():
                w.task.cancel()
            self._watches.clear()


def _volume_dir(pod_dir: Path, path: Path, mode: int) -> None:
    """A volume's directory; the volumes tree above it is root's only (0700), so a secret's files are
    never on a world-readable path (containers see the volume through their bind mounts only)."""
    for p, m in ((pod_dir, 0o750), (pod_dir / "volumes", 0o700)):
        p.mkdir(parents=True, exist_ok=True)
        p.chmod(m)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)

