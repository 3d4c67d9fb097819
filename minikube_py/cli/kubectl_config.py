"""mkctl commands about the cluster and the kubeconfig: version, api-versions, api-resources,
cluster-info and `config view|get-contexts|current-context|use-context|set-context`.

Called by minikube_py.cli.mkctl; output laid out as kubectl's.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import __version__
from ..api.errors import ApiError
from ..client.kubeconfig import ConfigError
from .mkctl import CommandError, Context
from .printing import tabulate, to_json, to_yaml

CLIENT_GIT_VERSION = f"v1.35.0+minikube-py-{__version__}"


def cmd_version(ctx: Context, args: argparse.Namespace) -> int:
    client = {"major": "1", "minor": "35", "gitVersion": CLIENT_GIT_VERSION, "compiler": "cpython",
              "platform": "linux/amd64"}
    server: dict[str, Any] | None = None
    error: Exception | None = None
    if not args.client:
        try:
            server = ctx.client.get("/version")
        except (ApiError, ConfigError, Exception) as exc:  # printed after the client version, as kubectl does
            error = exc
    if args.output in ("yaml", "json"):
        doc: dict[str, Any] = {"clientVersion": client}
        if server:
            doc["serverVersion"] = server
        print(to_yaml(doc) if args.output == "yaml" else json.dumps(doc, indent=2), end="" if args.output == "yaml"
              else "\n")
    else:
        print(f"Client Version: {CLIENT_GIT_VERSION}")
        if server:
            print(f"Server Version: {server.get('gitVersion', '')}")
    if error is not None:
        raise error
    return 0


def cmd_api_versions(ctx: Context, args: argparse.Namespace) -> int:
    for gv in ctx.discovery.group_versions():
        print(gv)
    return 0


def cmd_api_resources(ctx: Context, args: argparse.Namespace) -> int:
    resources = ctx.discovery.resources()
    if args.namespaced is not None:
        resources = [r for r in resources if r.namespaced == (args.namespaced == "true")]
    if args.api_group is not None:
        resources = [r for r in resources if r.group == args.api_group]
    if args.verbs:
        wanted = {v for item in args.verbs for v in item.split(",")}
        resources = [r for r in resources if wanted <= set(r.verbs)]
    if args.sort_by == "name":
        resources = sorted(resources, key=lambda r: r.name)
    elif args.sort_by == "kind":
        resources = sorted(resources, key=lambda r: r.kind)
    else:  # by group (core first), then by name, as kubectl prints them
        resources = sorted(resources, key=lambda r: (r.group, r.name))
    if args.output == "name":
        for r in resources:
            print(r.qualified)
        return 0
    header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    if args.output == "wide":
        header += ["VERBS", "CATEGORIES"]
    rows = [] if args.no_headers else [header]
    for r in resources:
        row = [r.name, ",".join(r.short_names), r.group_version, "true" if r.namespaced else "false", r.kind]
        if args.output == "wide":
            row += [",".join(sorted(r.verbs)), ",".join(r.categories)]
        rows.append(row)
    print(tabulate(rows), end="")
    return 0


def cmd_cluster_info(ctx: Context, args: argparse.Namespace) -> int:
    if args.rest:
        raise CommandError("cluster-info dump is not supported by mkctl; use 'mkctl get all -A -o yaml'")
    ctx.client.get("/version")  # proves the server answers, as kubectl's does
    print(f"Kubernetes control plane is running at {ctx.connection.server}")
    print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0


def cmd_config_help(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandError("a subcommand is required: view, get-contexts, current-context, use-context, set-context")


def cmd_config_view(ctx: Context, args: argparse.Namespace) -> int:
    doc = ctx.config.view(minify=args.minify, raw=args.raw or args.flatten)
    if args.output == "json":
        print(to_json(doc), end="")
    else:
        print(to_yaml(doc), end="")
    return 0


def cmd_config_get_contexts(ctx: Context, args: argparse.Namespace) -> int:
    cfg = ctx.config
    names = sorted(cfg.contexts)
    if args.names:
        missing = [n for n in args.names if n not in cfg.contexts]
        if missing:
            raise CommandError(f"context {missing[0]} not found")
        names = list(args.names)
    if args.output == "name":
        for n in names:
            print(n)
        return 0
    rows = [] if args.no_headers else [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
    for n in names:
        c = cfg.contexts[n]
        rows.append(["*" if n == cfg.current_context else "", n, str(c.get("cluster") or ""),
                     str(c.get("user") or ""), str(c.get("namespace") or "")])
    print(tabulate(rows), end="")
    return 0


def cmd_config_get_clusters(ctx: Context, args: argparse.Namespace) -> int:
    print("NAME")
    for n in sorted(ctx.config.clusters):
        print(n)
    return 0


def cmd_config_current_context(ctx: Context, args: argparse.Namespace) -> int:
    if not ctx.config.current_context:
        raise CommandError("current-context is not set")
    print(ctx.config.current_context)
    return 0


def cmd_config_use_context(ctx: Context, args: argparse.Namespace) -> int:
    ctx.config.set_current_context(args.name)
    print(f'Switched to context "{args.name}".')
    return 0


def cmd_config_set_context(ctx: Context, args: argparse.Namespace) -> int:
    cfg = ctx.config
    if args.current:
        if args.name:
            raise CommandError("you cannot specify a context name and --current")
        if not cfg.current_context:
            raise CommandError("no current context is set")
        name = cfg.current_context
    elif args.name:
        name = args.name
    else:
        raise CommandError("you must specify a non-empty context name or --current")
    updates = {k: v for k, v in (("namespace", args.ctx_namespace), ("cluster", args.ctx_cluster),
                                 ("user", args.ctx_user)) if v is not None}
    _, created = cfg.set_context(name, updates)
    print(f'Context "{name}" {"created" if created else "modified"}.')
    return 0
