"""What mkctl commands share: turning `TYPE NAME`, `TYPE/NAME`, `a,b` and `-f FILE` into
resources and objects, reading manifests (files, directories, URLs, stdin), and naming objects
the way kubectl prints them (`deployment.apps/web`).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..api.errors import ApiError
from ..client.discovery import Resource, UnknownResource
from .mkctl import CommandError, Context

Obj = dict[str, Any]
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Target:
    """One resource type and the names asked for (none: the whole collection)."""

    resource: Resource
    names: list[str] = field(default_factory=list)


def targets_from_args(ctx: Context, words: list[str], *, verb: str = "get") -> list[Target]:
    if not words:
        raise CommandError("Required resource not specified. Use \"mkctl api-resources\" for a complete list of "
                           "supported resources.")
    if any("/" in w for w in words):
        out: list[Target] = []
        for w in words:
            typed, sep, name = w.partition("/")
            if not sep or not typed or not name:
                raise CommandError(f"there is no need to specify a resource type as a separate argument when "
                                   f"passing arguments in resource/name form (e.g. 'mkctl {verb} "
                                   f"resource/<resource_name>' instead of 'mkctl {verb} resource "
                                   f"resource/<resource_name>'")
            res = resolve_one(ctx, typed)
            for t in out:
                if t.resource == res:
                    t.names.append(name)
                    break
            else:
                out.append(Target(res, [name]))
        return out
    types = [t for t in words[0].split(",") if t]
    resources: list[Resource] = []
    for typed in types:
        for r in ctx.discovery.resolve(typed):
            if r not in resources:
                resources.append(r)
    names = words[1:]
    if names and len(resources) > 1:
        raise CommandError("you may only specify a single resource type when giving names")
    return [Target(r, list(names)) for r in resources]


def resolve_one(ctx: Context, typed: str) -> Resource:
    found = ctx.discovery.resolve(typed)
    if len(found) != 1:
        raise UnknownResource(typed)
    result: Resource = found[0]
    return result


def typed_name(resource: Resource, name: str) -> str:
    return f"{resource.kind_qualified}/{name}"


def quoted_name(resource: Resource, name: str) -> str:
    """`deployment.apps "web"`: how kubectl names an object in delete messages."""
    return f'{resource.kind_qualified} "{name}"'


# --- manifests -------------------------------------------------------------------------------

@dataclass
class Manifest:
    source: str
    obj: Obj


def _files_of(path: Path, recursive: bool) -> list[Path]:
    out: list[Path] = []
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if recursive:
                out.extend(_files_of(child, recursive))
        elif child.suffix in MANIFEST_SUFFIXES:
            out.append(child)
    return out


def _read_source(name: str) -> list[tuple[str, str]]:
    if name == "-":
        return [("STDIN", sys.stdin.read())]
    if name.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(name, timeout=30) as resp:  # noqa: S310 - the user's own URL
                return [(name, resp.read().decode())]
        except urllib.error.HTTPError as exc:
            raise CommandError(f'unable to read URL "{name}", server reported {exc.code} {exc.reason}, '
                               f"status code={exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CommandError(f'unable to read URL "{name}": {getattr(exc, "reason", exc)}') from None
    return [(name, "")]


def read_manifests(filenames: list[str], recursive: bool = False) -> list[Manifest]:
    """Every object in the given files, directories and URLs, `List`s expanded, in order."""
    out: list[Manifest] = []
    for name in filenames:
        sources: list[tuple[str, str]] = []
        if name == "-" or name.startswith(("http://", "https://")):
            sources = _read_source(name)
        else:
            path = Path(name).expanduser()
            if not path.exists():
                raise CommandError(f'the path "{name}" does not exist')
            files = _files_of(path, recursive) if path.is_dir() else [path]
            for f in files:
                try:
                    sources.append((str(f), f.read_text()))
                except (OSError, UnicodeDecodeError) as exc:
                    raise CommandError(f'unable to read "{f}": {exc}') from None
        for source, text in sources:
            out.extend(parse_manifests(source, text))
    if not out:
        raise CommandError("no objects passed to apply" if filenames else "must specify one of -f and -k")
    return out


def parse_manifests(source: str, text: str) -> list[Manifest]:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise CommandError(f"error parsing {source}: error converting YAML to JSON: yaml: {yaml_problem(exc)}") \
            from None
    out: list[Manifest] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise CommandError(f"error parsing {source}: the document is not an object (a map of fields)")
        for obj in _expand(doc):
            for key in ("apiVersion", "kind"):
                if not obj.get(key):
                    raise CommandError(f'error validating "{source}": error validating data: {key} not set')
            if not isinstance(obj.get("metadata", {}), dict):
                raise CommandError(f'error validating "{source}": error validating data: metadata is not an object')
            out.append(Manifest(source, _jsonable(obj)))
    return out


def yaml_problem(exc: yaml.YAMLError) -> str:
    """`line N: problem` in the words of the Go YAML parser kubectl uses, where they differ."""
    problem = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
    mark = getattr(exc, "problem_mark", None)
    m = re.match(r"expected (.+), but got .*", problem)
    if m:  # an unclosed flow collection: Go names the line where it started
        problem = f"did not find expected {m.group(1)}"
        mark = getattr(exc, "context_mark", None) or mark
    problem = problem.replace("mapping values are not allowed here", "mapping values are not allowed in this context")
    problem = re.sub(r"found character '.*' that cannot start any token", "found character that cannot start any token",
                     problem)
    return (f"line {mark.line + 1}: " if mark is not None else "") + problem


def _expand(doc: Obj) -> list[Obj]:
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        out: list[Obj] = []
        for item in doc["items"]:
            if isinstance(item, dict):
                out.extend(_expand(item))
        return out
    return [doc]


def _jsonable(obj: Any) -> Any:
    """YAML can hold dates and other non-JSON scalars; the server wants JSON (as kubectl converts)."""
    return json.loads(json.dumps(obj, default=str))


def manifest_target(ctx: Context, m: Manifest) -> tuple[Resource, str | None, str]:
    """(resource, namespace, name) of a manifest's object, checking -n against its namespace."""
    obj = m.obj
    try:
        res: Resource = ctx.discovery.for_kind(str(obj["apiVersion"]), str(obj["kind"]))
    except UnknownResource:
        raise CommandError(f'resource mapping not found for name: "{(obj.get("metadata") or {}).get("name", "")}" '
                           f'namespace: "{(obj.get("metadata") or {}).get("namespace", "")}" from "{m.source}": '
                           f'no matches for kind "{obj["kind"]}" in version "{obj["apiVersion"]}"\n'
                           "ensure CRDs are installed first") from None
    meta = obj.setdefault("metadata", {})
    name = str(meta.get("name") or "")
    namespace: str | None = None
    if res.namespaced:
        own = meta.get("namespace")
        if own and ctx.namespace_explicit and own != ctx.namespace:
            raise CommandError(f'the namespace from the provided object "{own}" does not match the namespace '
                               f'"{ctx.namespace}". You must pass \'--namespace={own}\' to perform this operation.')
        namespace = str(own or ctx.namespace)
    return res, namespace, name


def named_targets(ctx: Context, args: Any, verb: str, *, no_name: str, selector: str = "",
                  allow_all: bool = False) -> list[tuple[Resource, str | None, str]]:
    """(resource, namespace, name) of every object a command names: by -f, by TYPE NAME... or
    TYPE/NAME, or (when the command allows it) every object of a type, or those a selector picks."""
    if getattr(args, "filename", None):
        return [manifest_target(ctx, m) for m in read_manifests(args.filename, args.recursive)]
    out: list[tuple[Resource, str | None, str]] = []
    for t in targets_from_args(ctx, args.args, verb=verb):
        ns = ctx.namespace if t.resource.namespaced else None
        if t.names:
            out.extend((t.resource, ns, n) for n in t.names)
        elif allow_all or selector:
            objs, _ = list_objects(ctx, t.resource, ns, selector=selector)
            out.extend((t.resource, ns, o["metadata"]["name"]) for o in objs)
        else:
            raise CommandError(no_name)
    return out


def error_when(exc: ApiError, verb: str, source: str) -> str:
    """kubectl's `Error from server (Reason): error when creating "file": message`."""
    from .mkctl import server_error

    return server_error(exc, f'error when {verb} "{source}"')


def get_object(ctx: Context, res: Resource, namespace: str | None, name: str) -> Obj:
    obj: Obj = ctx.client.get(res.path(namespace, name))
    obj.setdefault("apiVersion", res.group_version)
    obj.setdefault("kind", res.kind)
    return obj


def list_objects(ctx: Context, res: Resource, namespace: str | None, *, selector: str = "",
                 field_selector: str = "", chunk: int = 500) -> tuple[list[Obj], str]:
    """All objects of a collection, read in chunks; returns (items with TypeMeta, resourceVersion)."""
    items: list[Obj] = []
    token = ""
    rv = ""
    while True:
        page = ctx.client.get(res.path(namespace), labelSelector=selector, fieldSelector=field_selector,
                              limit=chunk or None, **{"continue": token or None})
        for item in page.get("items") or []:
            item.setdefault("apiVersion", res.group_version)
            item.setdefault("kind", res.kind)
            items.append(item)
        meta = page.get("metadata") or {}
        rv = meta.get("resourceVersion") or rv
        token = meta.get("continue") or ""
        if not token:
            return items, rv
