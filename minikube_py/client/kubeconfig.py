"""kubeconfig files as kubectl reads them: KUBECONFIG (merged), --kubeconfig, contexts, namespace.

Used by mkctl (and later by every component that talks to the apiserver from outside).  Merging
follows kubectl: the files of KUBECONFIG are read in order and the first file to set a map entry
(a cluster, user or context by name) or `current-context` wins; a write goes back to the file that
defined what is changed (`current-context` to the first file that has one, else the first file).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path("~/.kube/config")


class ConfigError(Exception):
    """The kubeconfig is missing, malformed or names something it does not define (one line)."""


@dataclass
class Connection:
    """Everything needed to reach and authenticate to one apiserver."""

    server: str
    namespace: str = "default"
    ca_pem: bytes | None = None
    insecure: bool = False
    token: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    username: str | None = None
    password: str | None = None
    context: str = ""
    cluster: str = ""
    user: str = ""


@dataclass
class KubeConfig:
    """The merged view of one or more kubeconfig files."""

    files: list[Path]
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""
    origin: dict[tuple[str, str], Path] = field(default_factory=dict)  # (section, name) -> defining file

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, explicit: str | None = None) -> KubeConfig:
        if explicit:
            paths = [Path(explicit).expanduser()]
            if not paths[0].exists():
                raise ConfigError(f"stat {explicit}: no such file or directory")
        elif os.environ.get("KUBECONFIG"):
            paths = [Path(p).expanduser() for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
        else:
            paths = [DEFAULT_PATH.expanduser()]
        cfg = cls(files=paths)
        for path in paths:
            if path.exists():
                cfg._merge(path)
        return cfg

    def _merge(self, path: Path) -> None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"error loading config file \"{path}\": {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"error loading config file \"{path}\": not a kubeconfig map")
        for section, target in (("clusters", self.clusters), ("users", self.users), ("contexts", self.contexts)):
            inner = section[:-1]  # cluster, user, context
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or "name" not in entry:
                    continue
                name = str(entry["name"])
                if name not in target:
                    target[name] = dict(entry.get(inner) or {})
                    self.origin[(section, name)] = path
        if not self.current_context and data.get("current-context"):
            self.current_context = str(data["current-context"])
            self.origin[("current-context", "")] = path

    # --- resolving -----------------------------------------------------------------------------

    def connection(self, *, context: str | None = None, cluster: str | None = None, user: str | None = None,
                   namespace: str | None = None, server: str | None = None, token: str | None = None,
                   insecure: bool = False) -> Connection:
        ctx_name = context or self.current_context
        ctx: dict[str, Any] = {}
        if ctx_name:
            if ctx_name not in self.contexts:
                raise ConfigError(f'context was not found for specified context: {ctx_name}')
            ctx = self.contexts[ctx_name]
        elif not server:
            raise ConfigError("no configuration has been provided, try setting KUBERNETES_MASTER environment "
                              "variable or pass --kubeconfig")
        cluster_name = cluster or str(ctx.get("cluster") or "")
        user_name = user or str(ctx.get("user") or "")
        cl = self.clusters.get(cluster_name, {})
        if cluster_name and not cl and not server:
            raise ConfigError(f'cluster "{cluster_name}" not found in the kubeconfig (context "{ctx_name}")')
        us = self.users.get(user_name, {})
        base = self._base_dir("clusters", cluster_name)
        ubase = self._base_dir("users", user_name)
        conn = Connection(
            server=str(server or cl.get("server") or ""),
            namespace=namespace or str(ctx.get("namespace") or "default"),
            ca_pem=_data(cl, "certificate-authority-data", "certificate-authority", base),
            insecure=insecure or bool(cl.get("insecure-skip-tls-verify")),
            token=token or us.get("token") or _read_file(us.get("tokenFile"), ubase, text=True),
            client_cert_pem=_data(us, "client-certificate-data", "client-certificate", ubase),
            client_key_pem=_data(us, "client-key-data", "client-key", ubase),
            username=us.get("username"), password=us.get("password"),
            context=ctx_name, cluster=cluster_name, user=user_name,
        )
        if not conn.server:
            raise ConfigError("the server could not be found in the kubeconfig: set clusters[].cluster.server "
                              "or pass --server")
        return conn

    def _base_dir(self, section: str, name: str) -> Path:
        path = self.origin.get((section, name))
        return path.parent if path else Path.cwd()

    # --- writing (config use-context / set-context) --------------------------------------------

    def write_target(self, section: str, name: str = "") -> Path:
        """The file a change to (section, name) goes to, as kubectl chooses it."""
        return self.origin.get((section, name)) or self.files[0]

    def set_current_context(self, name: str) -> Path:
        if name not in self.contexts:
            raise ConfigError(f'no context exists with the name: "{name}"')
        path = self.write_target("current-context")
        data = _read_map(path)
        data["current-context"] = name
        _write_map(path, data)
        self.current_context = name
        return path

    def set_context(self, name: str, updates: dict[str, str]) -> tuple[Path, bool]:
        """Create or modify context `name`; returns (file, created)."""
        path = self.write_target("contexts", name)
        data = _read_map(path)
        contexts = data.setdefault("contexts", []) or []
        data["contexts"] = contexts
        for entry in contexts:
            if isinstance(entry, dict) and entry.get("name") == name:
                entry.setdefault("context", {}).update(updates)
                _write_map(path, data)
                self.contexts[name] = dict(entry["context"])
                return path, False
        contexts.append({"name": name, "context": dict(updates)})
        _write_map(path, data)
        self.contexts[name] = dict(updates)
        return path, True

    def view(self, *, minify: bool = False, raw: bool = False) -> dict[str, Any]:
        """The merged config as `kubectl config view` prints it (secrets redacted unless raw)."""
        ctx_names = [self.current_context] if minify and self.current_context else sorted(self.contexts)
        contexts = {n: self.contexts[n] for n in ctx_names if n in self.contexts}
        clusters = {n: c for n, c in self.clusters.items()
                    if not minify or any(ctx.get("cluster") == n for ctx in contexts.values())}
        users = {n: u for n, u in self.users.items()
                 if not minify or any(ctx.get("user") == n for ctx in contexts.values())}

        def redact(section: dict[str, Any]) -> dict[str, Any]:
            if raw:
                return section
            out = {}
            for k, v in section.items():
                if k.endswith("-data"):
                    out[k] = "DATA+OMITTED"
                elif k in ("token", "password"):
                    out[k] = "REDACTED"
                else:
                    out[k] = v
            return out

        return {
            "apiVersion": "v1",
            "clusters": [{"cluster": redact(clusters[n]), "name": n} for n in sorted(clusters)],
            "contexts": [{"context": contexts[n], "name": n} for n in sorted(contexts)],
            "current-context": self.current_context,
            "kind": "Config",
            "users": [{"name": n, "user": redact(users[n])} for n in sorted(users)],
        }


def _read_file(name: Any, base: Path, *, text: bool = False) -> Any:
    if not name:
        return None
    path = Path(str(name)).expanduser()
    if not path.is_absolute():
        path = base / path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"unable to read {path}: {exc.strerror}") from None
    return data.decode().strip() if text else data


def _data(section: dict[str, Any], data_key: str, file_key: str, base: Path) -> bytes | None:
    if section.get(data_key):
        try:
            return base64.b64decode(str(section[data_key]))
        except ValueError:
            raise ConfigError(f"{data_key} is not valid base64") from None
    result: bytes | None = _read_file(section.get(file_key), base)
    return result


def _read_map(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": [],
                "current-context": "", "preferences": {}}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"error loading config file \"{path}\": not a kubeconfig map")
    return data


def _write_map(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=True, default_flow_style=False))
    tmp.chmod(0o600)
    tmp.replace(path)
