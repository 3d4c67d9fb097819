"""API discovery and resource-name resolution, as kubectl does them.

`Discovery` reads /api, /apis and the preferred version of every group, then resolves what a user
types (`po`, `pods`, `pod`, `Pod`, `deploy.apps`, `deployments.v1.apps`, the category `all`) to
`Resource`s.  Used by mkctl for every command that names a resource type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .rest import RestClient


class UnknownResource(Exception):
    """kubectl: error: the server doesn't have a resource type "X"."""

    def __init__(self, name: str) -> None:
        super().__init__(f'the server doesn\'t have a resource type "{name}"')
        self.name = name


@dataclass(frozen=True)
class Resource:
    name: str  # plural, e.g. deployments
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified(self) -> str:
        """`pods`, `deployments.apps`: the resource as kubectl names it in messages."""
        return f"{self.name}.{self.group}" if self.group else self.name

    @property
    def kind_qualified(self) -> str:
        """`pod`, `deployment.apps`: the prefix of `-o name` and of names in multi-type tables."""
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        out = self.prefix
        if self.namespaced and namespace:
            out += f"/namespaces/{namespace}"
        out += f"/{self.name}"
        if name:
            out += f"/{name}"
            if subresource:
                out += f"/{subresource}"
        return out


class Discovery:
    def __init__(self, client: RestClient) -> None:
        self.client = client
        self._resources: list[Resource] | None = None
        self._group_versions: list[str] | None = None
        self.subresources: set[tuple[str, str]] = set()  # (group, "deployments/scale")

    def group_versions(self) -> list[str]:
        if self._group_versions is None:
            self._load()
        assert self._group_versions is not None
        return self._group_versions

    def resources(self) -> list[Resource]:
        if self._resources is None:
            self._load()
        assert self._resources is not None
        return self._resources

    def _load(self) -> None:
        core = self.client.get("/api")
        groups = self.client.get("/apis")
        gvs: list[str] = list(core.get("versions") or [])
        resources: list[Resource] = []
        lists: list[tuple[str, str, dict[str, Any]]] = []
        for v in core.get("versions") or []:
            lists.append(("", v, self.client.get(f"/api/{v}")))
        for g in groups.get("groups") or []:
            for ver in g.get("versions") or []:
                gvs.append(ver["groupVersion"])
            preferred = (g.get("preferredVersion") or (g.get("versions") or [{}])[0]).get("version")
            if preferred:
                lists.append((g["name"], preferred, self.client.get(f"/apis/{g['name']}/{preferred}")))
        for group, version, rl in lists:
            for r in rl.get("resources") or []:
                if "/" in r["name"]:
                    self.subresources.add((group, r["name"]))
                    continue
                resources.append(Resource(
                    name=r["name"], singular=r.get("singularName") or r["kind"].lower(), kind=r["kind"],
                    group=group, version=version, namespaced=bool(r.get("namespaced")),
                    short_names=tuple(r.get("shortNames") or ()), categories=tuple(r.get("categories") or ()),
                    verbs=tuple(r.get("verbs") or ())))
        self._resources = resources
        self._group_versions = sorted(set(gvs))

    def resolve(self, typed: str) -> list[Resource]:
        """One typed name (a category expands to several) -> resources; UnknownResource when none."""
        text = typed.strip()
        lowered = text.lower()
        name, _, group = lowered.partition(".")
        version = ""
        if group and "." in group:
            first, _, rest = group.partition(".")
            if first.startswith("v") and first[1:2].isdigit():  # deployments.v1.apps
                version, group = first, rest
        candidates = [r for r in self.resources()
                      if (not group or r.group == group) and (not version or r.version == version)]
        for match in (
            lambda r: r.name == name,
            lambda r: r.singular == name,
            lambda r: name in r.short_names,
            lambda r: r.kind.lower() == name,
        ):
            found = [r for r in candidates if match(r)]
            if found:
                return [_preferred(found)]
        if not group:
            in_category = [r for r in self.resources() if lowered in r.categories]
            if in_category:
                return in_category
        raise UnknownResource(typed)

    def has_subresource(self, res: Resource, sub: str) -> bool:
        self.resources()
        return (res.group, f"{res.name}/{sub}") in self.subresources

    def for_kind(self, api_version: str, kind: str) -> Resource:
        group, _, version = api_version.rpartition("/")
        for r in self.resources():
            if r.kind == kind and r.group == group and (r.version == version or not version):
                return r
        raise UnknownResource(f"{kind} in version \"{api_version}\"")


def _preferred(found: list[Resource]) -> Resource:
    """The core group first, as kubectl's RESTMapper prefers it (pods, events)."""
    for r in found:
        if r.group == "":
            return r
    return found[0]
