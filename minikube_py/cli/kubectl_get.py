"""`mkctl get`: tables from the server's Table responses, yaml/json/name/jsonpath/custom-columns,
label and field selectors, -A, --show-labels, -L, --sort-by, and -w (watch) as kubectl prints them.

Called by minikube_py.cli.mkctl.  Columns are never computed here: the apiserver's Table (with
the kind's printer columns) is the only source, as kubectl's server-side printing does it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import ApiError, NotFound
from ..client.discovery import Resource
from .jsonpath import JSONPathError, Template, format_value
from .kubectl_resources import (
    Obj,
    Target,
    get_object,
    list_objects,
    manifest_target,
    read_manifests,
    targets_from_args,
    typed_name,
)
from .mkctl import CommandError, Context, server_error
from .printing import as_list, labels_text, tabulate, to_json, to_yaml

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


@dataclass
class OutputFormat:
    kind: str  # table | wide | yaml | json | name | jsonpath | custom-columns
    template: Template | None = None
    columns: list[tuple[str, Template]] = field(default_factory=list)

    @property
    def is_table(self) -> bool:
        return self.kind in ("table", "wide")


def parse_output(text: str, allowed: tuple[str, ...] = ()) -> OutputFormat:
    kind, _, rest = text.partition("=")
    try:
        if kind == "":
            return OutputFormat("table")
        if kind in ("wide", "yaml", "json", "name") and not rest:
            return OutputFormat(kind)
        if kind in ("jsonpath", "jsonpath-as-json") and rest:
            return OutputFormat("jsonpath", Template(rest))
        if kind == "jsonpath-file" and rest:
            return OutputFormat("jsonpath", Template(open(rest).read()))
        if kind == "custom-columns" and rest:
            return OutputFormat("custom-columns", columns=_custom_columns(rest))
        if kind == "custom-columns-file" and rest:
            lines = [line for line in open(rest).read().splitlines() if line.strip()]
            if len(lines) != 2:
                raise CommandError("custom-columns-file must hold two lines: headers and JSONPath expressions")
            spec = ",".join(f"{h}:{p}" for h, p in zip(lines[0].split(), lines[1].split(), strict=False))
            return OutputFormat("custom-columns", columns=_custom_columns(spec))
    except JSONPathError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"unable to read {rest}: {exc.strerror}") from None
    raise CommandError(f'unable to match a printer suitable for the output format "{text}", allowed formats are: '
                       "custom-columns,custom-columns-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,"
                       "wide,yaml")


def _custom_columns(spec: str) -> list[tuple[str, Template]]:
    out = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep or not header:
            raise CommandError(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        path = path.strip()
        if path.startswith("{") and path.endswith("}"):
            path = path[1:-1]
        if not path.startswith("."):
            path = "." + path
        out.append((header, Template("{" + path + "}")))
    return out


# --- fetching --------------------------------------------------------------------------------

@dataclass
class Fetched:
    """One resource type's answer: a Table (table output) or objects (everything else)."""

    resource: Resource
    columns: list[Obj] = field(default_factory=list)
    rows: list[Obj] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)
    resource_version: str = ""
    named: bool = False


def _fetch_table(ctx: Context, res: Resource, namespace: str | None, names: list[str], args: argparse.Namespace,
                 include_object: str) -> Fetched:
    out = Fetched(res, named=bool(names))
    params: dict[str, Any] = {"includeObject": include_object if include_object != "Metadata" else None}
    if names:
        for name in names:
            try:
                resp = ctx.client.request("GET", res.path(namespace, name), params=params, accept=TABLE_ACCEPT)
            except ApiError as exc:
                if not (args.ignore_not_found and isinstance(exc, NotFound)):
                    ctx.error(server_error(exc))
                continue
            _take_table(out, resp.json())
        return out
    token = ""
    while True:
        params.update(labelSelector=args.selector, fieldSelector=args.field_selector,
                      limit=args.chunk_size or None, **{"continue": token or None})
        page = ctx.client.request("GET", res.path(namespace), params=params, accept=TABLE_ACCEPT).json()
        _take_table(out, page)
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return out


def _take_table(out: Fetched, table: Obj) -> None:
    if table.get("kind") != "Table":  # a server without Table support: NAME and AGE, as kubectl falls back
        raise CommandError("the server did not answer with a Table")
    if not out.columns:
        out.columns = list(table.get("columnDefinitions") or [])
    out.rows.extend(table.get("rows") or [])
    out.resource_version = (table.get("metadata") or {}).get("resourceVersion") or out.resource_version


def _fetch_objects(ctx: Context, res: Resource, namespace: str | None, names: list[str],
                   args: argparse.Namespace) -> Fetched:
    out = Fetched(res, named=bool(names))
    if names:
        for name in names:
            try:
                out.objects.append(get_object(ctx, res, namespace, name))
            except ApiError as exc:
                if not (args.ignore_not_found and isinstance(exc, NotFound)):
                    ctx.error(server_error(exc))
        return out
    out.objects, out.resource_version = list_objects(ctx, res, namespace, selector=args.selector,
                                                     field_selector=args.field_selector, chunk=args.chunk_size)
    return out


# --- printing --------------------------------------------------------------------------------

def _table_lines(f: Fetched, fmt: OutputFormat, args: argparse.Namespace, *, with_kind: bool, all_ns: bool,
                 headers: bool) -> list[list[str]]:
    wide = fmt.kind == "wide"
    keep = [i for i, c in enumerate(f.columns) if wide or int(c.get("priority") or 0) == 0]
    label_cols = [k for item in args.label_columns for k in item.split(",") if k]
    show_ns = all_ns and f.resource.namespaced
    rows: list[list[str]] = []
    if headers:
        head = [str(f.columns[i].get("name", "")).upper() for i in keep]
        if show_ns:
            head.insert(0, "NAMESPACE")
        head += [k.rsplit("/", 1)[-1].upper() for k in label_cols]
        if args.show_labels:
            head.append("LABELS")
        rows.append(head)
    for row in f.rows:
        cells = row.get("cells") or []
        meta = ((row.get("object") or {}).get("metadata") or {})
        line = [_cell(cells[i]) if i < len(cells) else "" for i in keep]
        if with_kind and line:
            line[0] = typed_name(f.resource, line[0])
        if show_ns:
            line.insert(0, str(meta.get("namespace") or ""))
        labels = meta.get("labels") or {}
        line += [str(labels.get(k, "")) for k in label_cols]
        if args.show_labels:
            line.append(labels_text(labels))
        rows.append(line)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "<none>"
    return format_value(value)


def _sort_key(template: Template, obj: Obj) -> tuple[int, Any]:
    """--sort-by: missing values first, then numbers by value, then the rest as text."""
    values = template.values(obj)
    v = values[0] if values else None
    if v is None:
        return (0, "")
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (1, v)
    return (2, format_value(v))


def print_objects(objs: list[Obj], fmt: OutputFormat, *, single: bool, no_headers: bool = False) -> None:
    """yaml/json/name/jsonpath/custom-columns output of objects (shared with create, apply, ...)."""
    doc: Any = objs[0] if single and len(objs) == 1 else as_list(objs)
    if fmt.kind == "yaml":
        sys.stdout.write(to_yaml(doc))
    elif fmt.kind == "json":
        sys.stdout.write(to_json(doc))
    elif fmt.kind == "name":
        for o in objs:
            sys.stdout.write(f"{_kind_prefix(o)}/{(o.get('metadata') or {}).get('name', '')}\n")
    elif fmt.kind == "jsonpath":
        assert fmt.template is not None
        try:
            sys.stdout.write(fmt.template.render(doc))
        except JSONPathError as exc:
            raise CommandError(str(exc)) from None
    elif fmt.kind == "custom-columns":
        rows = [] if no_headers else [[h for h, _ in fmt.columns]]
        for o in objs:
            rows.append([",".join(format_value(v) for v in t.values(o)) or "<none>" for _, t in fmt.columns])
        sys.stdout.write(tabulate(rows))


def _kind_prefix(obj: Obj) -> str:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    return f"{kind}.{group}" if group else kind


def _no_resources(ctx: Context, namespace: str | None, any_namespaced: bool) -> None:
    if namespace and any_namespaced:
        print(f"No resources found in {namespace} namespace.", file=sys.stderr)
    else:
        print("No resources found", file=sys.stderr)


# --- the command -----------------------------------------------------------------------------

def cmd_get(ctx: Context, args: argparse.Namespace) -> int:
    if args.raw:
        sys.stdout.write(ctx.client.request("GET", args.raw).body.decode(errors="replace"))
        return 0
    fmt = parse_output(args.output)
    sort_template = None
    if args.sort_by:
        try:
            sort_template = Template(args.sort_by)
        except JSONPathError as exc:
            raise CommandError(str(exc)) from None
    namespace = None if args.all_namespaces else ctx.namespace
    plan: list[tuple[Resource, str | None, list[str]]] = []
    if args.filename:
        if args.args:
            raise CommandError("when paths are passed with -f, resource types and names must not be given")
        for m in read_manifests(args.filename, args.recursive):
            res, ns, name = manifest_target(ctx, m)
            plan.append((res, ns, [name]))
    else:
        targets: list[Target] = targets_from_args(ctx, args.args)
        plan = [(t.resource, namespace if t.resource.namespaced else None, t.names) for t in targets]
    if (args.watch or args.watch_only) and len({p[0] for p in plan}) > 1:
        raise CommandError("you may only specify a single resource type")
    with_kind = args.show_kind or len({p[0] for p in plan}) > 1
    single = len(plan) == 1 and len(plan[0][2]) == 1
    any_namespaced = any(p[0].namespaced for p in plan)

    printed_any = False
    last_rv = ""
    widths: list[int] = []  # the table's column widths, kept for the rows a watch prints
    if not args.watch_only:
        if fmt.is_table:
            include = "Object" if sort_template else "Metadata"
            first = True
            for res, ns, names in plan:
                fetched = _fetch_table(ctx, res, ns, names, args, include)
                last_rv = fetched.resource_version
                if not fetched.rows:
                    continue
                if sort_template:
                    fetched.rows.sort(key=lambda row: _sort_key(sort_template, row.get("object") or {}))
                lines = _table_lines(fetched, fmt, args, with_kind=with_kind, all_ns=args.all_namespaces,
                                     headers=not args.no_headers)
                if not first:
                    sys.stdout.write("\n")
                widths = []
                sys.stdout.write(tabulate(lines, widths))
                first = False
                printed_any = True
        else:
            objs: list[Obj] = []
            for res, ns, names in plan:
                fetched = _fetch_objects(ctx, res, ns, names, args)
                last_rv = fetched.resource_version
                objs.extend(fetched.objects)
            if sort_template:
                objs = sorted(objs, key=lambda obj: _sort_key(sort_template, obj))
            if objs or fmt.kind in ("yaml", "json") and not single:
                if objs or not ctx.errors:
                    print_objects(objs, fmt, single=single, no_headers=args.no_headers)
                printed_any = bool(objs)
        sys.stdout.flush()
        if not printed_any and not ctx.errors and not any(p[2] for p in plan) and fmt.kind not in ("yaml", "json"):
            _no_resources(ctx, namespace, any_namespaced)
    if args.watch or args.watch_only:
        res, ns, names = plan[0]
        _watch(ctx, args, fmt, res, ns, names, last_rv, with_kind=with_kind, headers=not printed_any, widths=widths)
    return 1 if ctx.errors else 0


def _watch(ctx: Context, args: argparse.Namespace, fmt: OutputFormat, res: Resource, namespace: str | None,
           names: list[str], rv: str, *, with_kind: bool, headers: bool, widths: list[int]) -> None:
    field_selector = args.field_selector
    if names:
        if len(names) > 1:
            raise CommandError("watch is only supported on individual resources and resource collections, "
                               f"but {len(names)} resources were found")
        field_selector = ",".join(x for x in (field_selector, f"metadata.name={names[0]}") if x)
    params: dict[str, Any] = {"watch": "true", "resourceVersion": rv or None, "labelSelector": args.selector,
                              "fieldSelector": field_selector, "allowWatchBookmarks": "false"}
    accept = TABLE_ACCEPT if fmt.is_table else "application/json"
    if fmt.is_table and args.watch_only:
        params["resourceVersion"] = None
    columns: list[Obj] = []
    for line in ctx.client.stream(res.path(namespace), params, accept=accept):
        if not line.strip():
            continue
        event = json.loads(line)
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise CommandError(obj.get("message") or "the watch ended with an error")
        if kind == "BOOKMARK":
            continue
        if fmt.is_table:
            if obj.get("columnDefinitions"):
                columns = obj["columnDefinitions"]
            f = Fetched(res, columns=columns, rows=obj.get("rows") or [])
            lines = _table_lines(f, fmt, args, with_kind=with_kind, all_ns=args.all_namespaces, headers=headers)
            if args.output_watch_events:
                lines = [["EVENT", *lines[0]]] + [[kind, *r] for r in lines[1:]] if headers else \
                    [[kind, *r] for r in lines]
            headers = False
            sys.stdout.write(tabulate(lines, widths))
        else:
            obj.setdefault("apiVersion", res.group_version)
            obj.setdefault("kind", res.kind)
            if args.output_watch_events:
                obj = {"type": kind, "object": obj}
            if fmt.kind == "yaml":
                sys.stdout.write("---\n")
            print_objects([obj], fmt, single=True)
        sys.stdout.flush()
