"""Files of a configMap, secret, downwardAPI or projected volume, swapped all at once (the kubelet's
AtomicWriter, pkg/volume/util/atomic_writer.go, reimplemented).

The volume directory holds one timestamped directory with the real files (`..2026_12_01_21_50_00.xyz`),
a `..data` symlink to it, and one symlink per top-level name of the payload (`key -> ..data/key`).
An update writes a new timestamped directory, points a `..data_tmp` symlink at it and renames it
over `..data` (one rename: a reader sees the old set of files or the new one, never a mix), then
adds or removes the top-level symlinks and deletes the old directory.  A container that bound one
file through a subPath keeps the old file (its mount holds the deleted inode): as in Kubernetes,
subPath mounts do not update.  An unchanged payload touches nothing.

Pure file-system code, no Kubernetes objects: agents/kubelet/volumes.py builds the payloads;
unit-tested in tests/unit/test_kubelet_volumes.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"


class PayloadError(ValueError):
    """A payload path that would leave the volume directory or clash with the writer's own names."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def validate_path(path: str) -> None:
    """The kubelet's validatePath: relative, no `..` element, not starting with `..`, not empty."""
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > 4096:
        raise PayloadError(f"invalid path: must be less than or equal to 4096 characters: {path!r}")
    if PurePosixPath(path).is_absolute():
        raise PayloadError(f"invalid path: must be relative path: {path}")
    if ".." in path.split("/"):
        raise PayloadError(f"invalid path: must not contain '..': {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def _clean(payload: dict[str, FileProjection]) -> dict[str, FileProjection]:
    out = {}
    for path, item in payload.items():
        validate_path(path)
        out[str(PurePosixPath(path))] = item
    return out


def _current(target: Path) -> Path | None:
    link = target / DATA_DIR
    try:
        return target / os.readlink(link)
    except OSError:
        return None


def _same(old: Path, payload: dict[str, FileProjection]) -> bool:
    """Does the directory hold exactly the payload (contents and modes)?"""
    found: set[str] = set()
    for root, _dirs, files in os.walk(old):
        for f in files:
            found.add(str((Path(root) / f).relative_to(old)))
    if found != set(payload):
        return False
    for path, item in payload.items():
        p = old / path
        try:
            if p.stat().st_mode & 0o7777 != item.mode or p.read_bytes() != item.data:
                return False
        except OSError:
            return False
    return True


def top_level(payload: dict[str, FileProjection]) -> set[str]:
    return {path.split("/", 1)[0] for path in payload}


def write(target: Path, payload: dict[str, FileProjection], *, now: float | None = None) -> bool:
    """Make `target` show exactly `payload`; returns False when it already did (nothing written)."""
    payload = _clean(payload)
    target.mkdir(parents=True, exist_ok=True)
    old = _current(target)
    if old is not None and old.is_dir() and _same(old, payload):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(time.time() if now is None else now))
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    fresh.chmod(0o755)
    for path, item in payload.items():
        p = fresh / path
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        p.write_bytes(item.data)
        p.chmod(item.mode)
    tmp = target / DATA_TMP
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(fresh.name)
    tmp.replace(target / DATA_DIR)  # the one atomic step
    wanted = top_level(payload)
    for name in wanted:
        link = target / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(f"{DATA_DIR}/{name}")
    old_names = set()
    if old is not None and old.is_dir():
        old_names = {p.name for p in old.iterdir()}
    for name in old_names - wanted:
        link = target / name
        if link.is_symlink():
            link.unlink()
    for entry in target.iterdir():  # the old payload directory, and leftovers of an interrupted write
        if entry.name.startswith("..") and entry.name not in (DATA_DIR, fresh.name) and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    return True
