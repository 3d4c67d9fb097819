"""A pod's volumes on this node, as the kubelet's volume manager and volume plugins make them.

Each pod volume becomes a directory under the pod's dir, in the kubelet's layout
(`pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`), or a path the pod names (hostPath, the bound
PV of a persistentVolumeClaim), or one of our Docker volumes (emptyDir `medium: Memory`: a tmpfs
shared by the pod's containers).  Each container's volumeMounts (mountPath, readOnly, subPath,
subPathExpr) then become Docker bind mounts.

This module is the pure part: the files a configMap / secret / downwardAPI / projected volume holds
(the kubelet's MakePayload), the hostPath type checks, and the mapping of volumeMounts to binds.
agents/kubelet/volume_manager.py reads the objects, writes the files and owns the Docker volumes;
unit-tested in tests/unit/test_kubelet_volumes.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikube_py.api import quantity

from .atomic_writer import FileProjection, PayloadError, validate_path
from .env import EnvError, PodFacts, field_value, resource_value
from .runtime import expand

Obj = dict[str, Any]
Lookup = Callable[[str, str, str], "Obj | None"]  # (kind "ConfigMap"/"Secret", namespace, name)
DEFAULT_MODE = 0o644

PLUGINS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
           "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
           "projected": "kubernetes.io~projected"}
ATOMIC = ("configMap", "secret", "downwardAPI", "projected")  # files from the API: always mounted read-only
SUPPORTED = (*PLUGINS, "hostPath", "persistentVolumeClaim")


class VolumeError(Exception):
    """A volume that cannot be set up (the kubelet's FailedMount); the pod waits and is retried."""

    def __init__(self, volume: str, message: str, *, process: bool = False) -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message
        self.process = process  # failed before SetUp (a claim not bound): the kubelet words it differently

    def event_message(self) -> str:
        if self.process:
            return (f"Unable to attach or mount volumes: unmounted volumes=[{self.volume}], unattached volumes=[], "
                    f"failed to process volumes=[{self.volume}]: {self.message}")
        return f'MountVolume.SetUp failed for volume "{self.volume}" : {self.message}'


class MountError(Exception):
    """A volumeMount of one container that cannot be made (a bad subPath): CreateContainerConfigError."""


def plugin_of(volume: Obj) -> str:
    """The volume's source field ("emptyDir", "configMap", ...), or "" when it has none we know."""
    for key in SUPPORTED:
        if key in volume and volume[key] is not None:
            return key
    return next((k for k in volume if k != "name"), "")


def volume_dir(pod_dir: Path, plugin: str, name: str) -> Path:
    return pod_dir / "volumes" / PLUGINS[plugin] / name


# --- what the files are (MakePayload) ------------------------------------------------------------

def _mode(value: Any, default: int) -> int:
    return int(value) & 0o777 if value is not None else default


def _object_data(kind: str, obj: Obj) -> dict[str, bytes]:
    if kind == "Secret":
        return {str(k): base64.b64decode(str(v or "")) for k, v in (obj.get("data") or {}).items()}
    out = {str(k): base64.b64decode(str(v or "")) for k, v in (obj.get("binaryData") or {}).items()}
    out.update({str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()})
    return out


def object_payload(kind: str, source: Obj, obj: Obj | None, volume: str, default_mode: int) -> dict[str, FileProjection]:
    """Files of a configMap or secret source (a volume's or a projected one's): every key, or the
    items (key -> path, with their mode); a missing object or key is an error unless optional."""
    name = str(source.get("name") or source.get("secretName") or "")
    optional = bool(source.get("optional"))
    if obj is None:
        if optional:
            return {}
        raise VolumeError(volume, f'{kind.lower()} "{name}" not found')
    data = _object_data(kind, obj)
    items = source.get("items") or []
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in data.items()}
    out = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "ConfigMap" else \
                "references non-existent secret key"
            raise VolumeError(volume, f"{what}: {key}")
        out[str(item.get("path") or key)] = FileProjection(data[key], _mode(item.get("mode"), default_mode))
    return out


def format_map(values: Obj) -> str:
    """The downward API's labels/annotations file: `key="value"` lines in key order (Go's %q)."""
    return "\n".join(f"{k}={json.dumps(str(values[k]), ensure_ascii=False)}" for k in sorted(values))


def downward_payload(items: list[Obj], pod: Obj, facts: PodFacts, volume: str,
                     default_mode: int) -> dict[str, FileProjection]:
    meta = pod.get("metadata") or {}
    containers = list((pod.get("spec") or {}).get("containers") or [])
    out = {}
    for item in items:
        path = str(item.get("path") or "")
        try:
            if item.get("fieldRef"):
                fp = str(item["fieldRef"].get("fieldPath") or "")
                if fp in ("metadata.labels", "metadata.annotations"):
                    value = format_map(meta.get(fp.split(".")[1]) or {})
                else:
                    value = field_value(pod, fp, facts)
            elif item.get("resourceFieldRef"):
                ref = item["resourceFieldRef"]
                value = resource_value(pod, containers[0] if containers else {}, ref, facts)
            else:
                continue
        except EnvError as exc:
            raise VolumeError(volume, str(exc)) from exc
        out[path] = FileProjection(value.encode(), _mode(item.get("mode"), default_mode))
    return out


def needs_allocatable(pod: Obj) -> bool:
    """Does a downwardAPI file name a container resource (whose unset limit is the node's allocatable)?"""
    for v in (pod.get("spec") or {}).get("volumes") or []:
        items = list((v.get("downwardAPI") or {}).get("items") or [])
        for src in (v.get("projected") or {}).get("sources") or []:
            items += (src.get("downwardAPI") or {}).get("items") or []
        if any(i.get("resourceFieldRef") for i in items):
            return True
    return False


@dataclass
class Projection:
    """One atomic-writer volume's files, and what was left out (sources not served yet)."""
    files: dict[str, FileProjection]
    skipped: list[str] = field(default_factory=list)


def payload(volume: Obj, pod: Obj, lookup: Lookup, facts: PodFacts) -> Projection:
    """The files of a configMap, secret, downwardAPI or projected volume; raises VolumeError."""
    name = str(volume.get("name"))
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    kind = plugin_of(volume)
    source = volume[kind] or {}
    default = _mode(source.get("defaultMode"), DEFAULT_MODE)
    out = Projection({})
    if kind == "configMap":
        out.files = object_payload("ConfigMap", source, lookup("ConfigMap", namespace, str(source.get("name") or "")),
                                   name, default)
    elif kind == "secret":
        out.files = object_payload("Secret", source, lookup("Secret", namespace, str(source.get("secretName") or "")),
                                   name, default)
    elif kind == "downwardAPI":
        out.files = downward_payload(source.get("items") or [], pod, facts, name, default)
    elif kind == "projected":
        for src in source.get("sources") or []:
            if src.get("configMap") is not None:
                cm = src["configMap"]
                part = object_payload("ConfigMap", cm, lookup("ConfigMap", namespace, str(cm.get("name") or "")),
                                      name, default)
            elif src.get("secret") is not None:
                sec = src["secret"]
                part = object_payload("Secret", sec, lookup("Secret", namespace, str(sec.get("name") or "")),
                                      name, default)
            elif src.get("downwardAPI") is not None:
                part = downward_payload(src["downwardAPI"].get("items") or [], pod, facts, name, default)
            else:
                what = next((k for k in src if src[k] is not None), "?")
                path = str((src.get(what) or {}).get("path") or "") if isinstance(src.get(what), dict) else ""
                out.skipped.append(f"{what}" + (f" ({path})" if path else ""))
                continue
            for path, item in part.items():
                if path in out.files:
                    raise VolumeError(name, f"projected sources conflict on path {path}")
                out.files[path] = item
    try:
        for path in out.files:
            validate_path(path)
    except PayloadError as exc:
        raise VolumeError(name, str(exc)) from exc
    return out


def referenced_objects(pod: Obj) -> set[tuple[str, str, str]]:
    """The ConfigMaps and Secrets the pod's volumes read: (kind, namespace, name)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    out = set()
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if (v.get("configMap") or {}).get("name"):
            out.add(("ConfigMap", namespace, str(v["configMap"]["name"])))
        if (v.get("secret") or {}).get("secretName"):
            out.add(("Secret", namespace, str(v["secret"]["secretName"])))
        for src in (v.get("projected") or {}).get("sources") or []:
            if (src.get("configMap") or {}).get("name"):
                out.add(("ConfigMap", namespace, str(src["configMap"]["name"])))
            if (src.get("secret") or {}).get("name"):
                out.add(("Secret", namespace, str(src["secret"]["name"])))
    return out


# --- hostPath ------------------------------------------------------------------------------------

def check_host_path(path: str, kind: str | None) -> None:
    """The hostPath `type` check (host_path.go checkType): *OrCreate types create what is missing
    (a directory 0755 with its parents, an empty file 0644 in an existing directory), the others
    only check; raises ValueError with the kubelet's text."""
    kind = kind or ""
    p = Path(path)
    if kind == "":
        return
    if kind == "DirectoryOrCreate" and not os.path.lexists(p):
        p.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    if kind == "FileOrCreate" and not os.path.lexists(p):
        try:  # as the kubelet, never the parent directory
            p.touch(mode=0o644, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc
        return
    try:
        mode = p.stat().st_mode
    except OSError:
        mode = 0
    tests: dict[str, tuple[Callable[[int], bool], str]] = {
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"), "Directory": (stat.S_ISDIR, "a directory"),
        "FileOrCreate": (stat.S_ISREG, "a file"), "File": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket file"), "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device")}
    if kind not in tests:
        raise ValueError(f"{kind} is an invalid volume type")
    test, what = tests[kind]
    if not mode or not test(mode):
        raise ValueError(f"hostPath type check failed: {path} is not {what}")


DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DOCKER_ROOTS = ("/var/lib/docker",)  # the engine's data: every container's files


def hands_over_the_host(path: str) -> bool:
    """A hostPath that would give a pod the host: `/`, Docker's socket, or a directory holding the
    socket (looked at as written and with symlinks followed).  The agent refuses these unless the
    node allows privileged pods: a deliberate difference from Kubernetes (issue 10, Host safety)."""
    for p in {os.path.normpath(path), os.path.realpath(path)}:
        if p == "/":
            return True
        for sock in {s for x in DOCKER_SOCKETS for s in (x, os.path.realpath(x))}:
            if p == sock or sock.startswith(p + "/"):
                return True
        for root in DOCKER_ROOTS:
            if p == root or root.startswith(p + "/") or p.startswith(root + "/"):
                return True
    return False


# --- volumeMounts -> binds -----------------------------------------------------------------------

@dataclass(frozen=True)
class Prepared:
    """One pod volume ready to mount: a host path to bind, or one of our Docker volumes (tmpfs)."""
    name: str
    host_path: str = ""
    docker_volume: str = ""
    read_only: bool = False  # forced: the atomic-writer volumes, a claim mounted readOnly


def sub_path_source(prepared: Prepared, sub_path: str) -> str:
    """The host path a subPath mount binds: inside the volume (symlinks followed, never out of it);
    a missing subPath of a writable volume is created as a directory, as the kubelet does."""
    try:
        validate_path(sub_path)
    except PayloadError as exc:
        raise MountError(f"subPath {sub_path!r}: {exc}") from exc
    base = Path(prepared.host_path).resolve()

    def within(p: Path) -> bool:
        return p == base or base in p.parents

    outside = MountError(f"subpath {sub_path!r} not within volume path {str(base)!r}")
    if not within((base / sub_path).resolve()):  # checked before anything is created (a symlink a pod made)
        raise outside
    if not os.path.lexists(base / sub_path) and not prepared.read_only:
        cur = base  # one level at a time: every symlink met is resolved and checked before going on
        for part in Path(sub_path).parts:
            nxt = cur / part
            if nxt.is_symlink():
                nxt = nxt.resolve()
                if not within(nxt):
                    raise outside
            elif not nxt.exists():
                nxt.mkdir(mode=0o750)
            cur = nxt
    real = (base / sub_path).resolve()
    if not within(real):
        raise outside
    if not real.exists():
        raise MountError(f"subPath {sub_path!r} does not exist in volume {prepared.name!r}")
    return str(real)


def container_mounts(container: Obj, prepared: dict[str, Prepared],
                     env: dict[str, str]) -> tuple[list[str], list[Obj]]:
    """Docker binds ("host:container[:ro]") and Docker-volume mounts for one container's volumeMounts."""
    binds: list[str] = []
    mounts: list[Obj] = []
    for m in container.get("volumeMounts") or []:
        name, target = str(m.get("name")), str(m.get("mountPath") or "")
        vol = prepared.get(name)
        if vol is None:
            raise MountError(f"cannot find volume {name!r} to mount into container {container.get('name')!r}")
        read_only = bool(m.get("readOnly")) or vol.read_only
        sub = str(m.get("subPath") or "")
        if m.get("subPathExpr"):
            sub = expand(str(m["subPathExpr"]), env)
        if vol.docker_volume:
            if sub:
                raise MountError(f"subPath of volume {name!r} (emptyDir medium Memory) is not supported on this node")
            mounts.append({"Target": target, "Source": vol.docker_volume, "Type": "volume", "ReadOnly": read_only})
            continue
        source = sub_path_source(vol, sub) if sub else vol.host_path
        binds.append(f"{source}:{target}" + (":ro" if read_only else ""))
    return binds, mounts


def memory_size(volume: Obj, pod: Obj) -> int | None:
    """tmpfs size of a Memory emptyDir: its sizeLimit, else the pod's memory limit when every
    container sets one (the kubelet's SizeMemoryBackedVolumes), else tmpfs' default."""
    limit = (volume.get("emptyDir") or {}).get("sizeLimit")
    if limit:
        return quantity.to_bytes(limit)
    limits = [((c.get("resources") or {}).get("limits") or {}).get("memory")
              for c in (pod.get("spec") or {}).get("containers") or []]
    if limits and all(limits):
        return sum(quantity.to_bytes(str(x)) for x in limits)
    return None
