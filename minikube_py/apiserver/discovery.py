"""Discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>) and /version, from the kinds table.

kubectl and client-go read these before anything else; they ask for aggregated discovery
first and fall back to these legacy documents when the answer is plain application/json.
"""

from __future__ import annotations

import platform
from functools import cache
from typing import Any

from .. import __version__
from ..api.kinds import BY_GROUP_VERSION, KindInfo

KUBE_MAJOR, KUBE_MINOR = "1", "35"

# Subresources: (kind, group, version, verbs); group/version "" means the parent's.
_SUBRESOURCES: dict[str, tuple[str, str, str, list[str]]] = {
    "status": ("", "", "", ["get", "patch", "update"]),
    "scale": ("Scale", "autoscaling", "v1", ["get", "patch", "update"]),
    "binding": ("Binding", "", "", ["create"]),
    "log": ("Pod", "", "", ["get"]),
    "exec": ("PodExecOptions", "", "", ["create", "get"]),
    "attach": ("PodAttachOptions", "", "", ["create", "get"]),
    "portforward": ("PodPortForwardOptions", "", "", ["create", "get"]),
    "eviction": ("Eviction", "policy", "v1", ["create"]),
    "finalize": ("", "", "", ["update"]),
}


def version_info() -> dict[str, str]:
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "gitVersion": f"v{KUBE_MAJOR}.{KUBE_MINOR}.0+minikube-py-{__version__}",
        "gitCommit": "minikube-py",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{platform.system().lower()}/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


@cache
def api_group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for gv in BY_GROUP_VERSION:
        if "/" in gv:
            group, version = gv.split("/", 1)
            groups.setdefault(group, []).append(version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
            for g, vs in groups.items()
        ],
    }


def api_group(group: str) -> dict[str, Any] | None:
    for g in api_group_list()["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def _resource(info: KindInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
                           "kind": info.kind, "verbs": info.verbs}
    if info.short_names:
        out["shortNames"] = list(info.short_names)
    if info.categories:
        out["categories"] = list(info.categories)
    return out


@cache
def api_resource_list(group_version: str) -> dict[str, Any] | None:
    infos = BY_GROUP_VERSION.get(group_version)
    if not infos:
        return None
    resources: list[dict[str, Any]] = []
    for info in infos:
        resources.append(_resource(info))
        for sub in sorted(info.subresources):
            kind, group, version, verbs = _SUBRESOURCES[sub]
            entry: dict[str, Any] = {"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                                     "kind": kind or info.kind, "verbs": verbs}
            if group:
                entry["group"], entry["version"] = group, version
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
