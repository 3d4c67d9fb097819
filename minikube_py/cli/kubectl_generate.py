"""mkctl commands that build objects from flags: `run`, `create deployment|service|configmap|
secret|namespace` and `expose`, producing the same objects kubectl's generators produce.

Called by minikube_py.cli.mkctl.  `--dry-run=client -o yaml` prints the object without sending it.
"""

from __future__ import annotations

import argparse
import base64
import re
from pathlib import Path
from typing import Any

from ..api.errors import ApiError
from ..client.discovery import Resource
from .kubectl_get import parse_output, print_objects
from .kubectl_resources import Obj, get_object, resolve_one, targets_from_args, typed_name
from .mkctl import CommandError, Context

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _send(ctx: Context, args: argparse.Namespace, typed: str, obj: Obj, *, verb: str = "created",
          failure: str = "") -> int:
    """Create `obj` (or print it under --dry-run=client); `failure` words a rejection as
    `error: failed to create <failure>: ...`, as some of kubectl's generators do."""
    res = resolve_one(ctx, typed)
    namespace = ctx.namespace if res.namespaced else None
    if res.namespaced and ctx.namespace_explicit:  # kubectl writes an explicit -n into the object
        obj.setdefault("metadata", {})["namespace"] = namespace
    suffix = ""
    if getattr(args, "save_config", False):
        from .kubectl_write import _set_last_applied

        _set_last_applied(obj, None)
    if args.dry_run == "client":
        result = obj
        suffix = " (dry run)"
    else:
        params = {"fieldValidation": "Strict"}
        if args.dry_run == "server":
            params["dryRun"] = "All"
            suffix = " (server dry run)"
        try:
            result = ctx.client.request("POST", res.path(namespace), params=params, body=obj).json()
        except ApiError as exc:
            if failure:
                raise CommandError(f"failed to create {failure}: {exc.status().get('message') or exc}") from None
            raise
    fmt = parse_output(args.output or "")
    if fmt.kind != "table":
        result.setdefault("apiVersion", res.group_version)
        result.setdefault("kind", res.kind)
        print_objects([result], fmt, single=True)
    else:
        print(f"{typed_name(res, obj['metadata']['name'])} {verb}{suffix}")
    return 0


def _key_values(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise CommandError(f"invalid {what}: {item!r}, expected KEY=VALUE")
        out[k] = v
    return out


def _labels(text: str) -> dict[str, str]:
    return _key_values([p for p in text.split(",") if p], "label spec") if text else {}


def _check_name(name: str) -> None:
    if not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        raise CommandError(f'invalid name "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                           "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                           "character")


# --- run -------------------------------------------------------------------------------------

def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    labels = _labels(args.labels) or {"run": args.name}
    container: Obj = {"name": args.name, "image": args.image, "resources": {}}
    command = list(args.command_args or []) + list(args.after_dashdash or [])
    if command:
        container["command" if args.command else "args"] = command
    if args.env:
        container["env"] = [{"name": k, "value": v} for k, v in _key_values(args.env, "env").items()]
    if args.port:
        try:
            container["ports"] = [{"containerPort": int(args.port)}]
        except ValueError:
            raise CommandError(f'invalid argument "{args.port}" for "--port" flag: must be a number') from None
    if args.image_pull_policy:
        container["imagePullPolicy"] = args.image_pull_policy
    pod: Obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"labels": labels, "name": args.name},
        "spec": {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": args.restart},
        "status": {},
    }
    if args.annotations:
        pod["metadata"]["annotations"] = _key_values(args.annotations, "annotation")
    if args.overrides:
        pod = _override(ctx, pod, args.overrides, args.override_type)
    _send(ctx, args, "pods", pod)
    if args.expose:
        if not args.port:
            raise CommandError("--port must be set when exposing a service")
        svc = _service(args.name, "ClusterIP", [{"port": int(args.port), "protocol": "TCP",
                                                  "targetPort": int(args.port)}], labels, labels=None)
        _send(ctx, args, "services", svc)
    return 0


def _override(ctx: Context, obj: Obj, fragment: str, override_type: str) -> Obj:
    from ..client.strategic import PatchMeta
    from .kubectl_write import _openapi_doc
    from .overrides import OverrideError, apply_override

    meta = None
    if override_type == "strategic":
        res = resolve_one(ctx, "pods")
        meta = PatchMeta.for_kind(_openapi_doc(ctx, res), res.group, res.version, res.kind)
    try:
        return apply_override(obj, fragment, override_type, meta)
    except OverrideError as exc:
        raise CommandError(str(exc)) from None


# --- create deployment / namespace / configmap / secret / service ----------------------------

def cmd_create_deployment(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    command = list(args.command_args or []) + list(args.after_dashdash or [])
    if command and len(args.image) > 1:
        raise CommandError("cannot specify multiple --image options and command")
    containers: list[Obj] = []
    for image in args.image:
        base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        c: Obj = {"image": image, "name": _container_name(base), "resources": {}}
        if command:
            c["command"] = command
        if args.port >= 0:
            c["ports"] = [{"containerPort": args.port}]
        containers.append(c)
    labels = {"app": args.name}
    dep: Obj = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": labels, "name": args.name},
        "spec": {"replicas": args.replicas, "selector": {"matchLabels": labels}, "strategy": {},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}},
        "status": {},
    }
    return _send(ctx, args, "deployments.apps", dep, failure="deployment")


def _container_name(base: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", base.lower()).strip("-")
    return name[:63] or "container"


def cmd_create_namespace(ctx: Context, args: argparse.Namespace) -> int:
    return _send(ctx, args, "namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": args.name}, "spec": {}, "status": {}})


def _from_sources(args: argparse.Namespace, *, binary: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(string data, base64 binary data) from --from-literal, --from-file and --from-env-file."""
    if args.from_env_file and (args.from_file or args.from_literal):
        raise CommandError("from-env-file cannot be combined with from-file or from-literal")
    data: dict[str, str] = {}
    binary_data: dict[str, str] = {}

    def put(key: str, value: bytes) -> None:
        if key in data or key in binary_data:
            raise CommandError(f'cannot add key "{key}", another key by that name already exists in Data for '
                               f"{'Secret' if binary else 'ConfigMap'} \"{args.name}\"")
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
            raise CommandError(f'"{key}" is not a valid key name: a valid config key must consist of alphanumeric '
                               "characters, '-', '_' or '.'")
        if binary:
            data[key] = base64.b64encode(value).decode()
            return
        try:
            data[key] = value.decode()
        except UnicodeDecodeError:
            binary_data[key] = base64.b64encode(value).decode()

    for item in args.from_literal:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise CommandError(f"invalid literal source {item}, expected key=value")
        put(k, v.encode())
    for item in args.from_file:
        key, sep, path_text = item.partition("=")
        if not sep:
            key, path_text = "", item
        path = Path(path_text).expanduser()
        if not path.exists():
            raise CommandError(f"error reading {path_text}: no such file or directory")
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            put(key or f.name, f.read_bytes())
    for env_file in args.from_env_file:
        path = Path(env_file).expanduser()
        if not path.exists():
            raise CommandError(f"error reading {env_file}: no such file or directory")
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            k, sep, v = line.partition("=")
            if not sep:
                raise CommandError(f'{env_file}: line {n}: "{line}" is not a valid env var definition '
                                   "(KEY=VALUE)")
            put(k, v.encode())
    return data, binary_data


def cmd_create_configmap(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    data, binary_data = _from_sources(args, binary=False)
    cm: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": args.name}}
    if data:
        cm["data"] = data
    if binary_data:
        cm["binaryData"] = binary_data
    return _send(ctx, args, "configmaps", cm, failure="configmap")


def cmd_create_secret_generic(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    data, _ = _from_sources(args, binary=True)
    secret: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": args.name}}
    if data:
        secret["data"] = data
    if args.type:
        secret["type"] = args.type
    return _send(ctx, args, "secrets", secret, failure="secret")


def cmd_create_secret_tls(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    try:
        cert = Path(args.cert).read_bytes()
        key = Path(args.key).read_bytes()
    except OSError as exc:
        raise CommandError(f"failed to load key pair open {exc.filename}: {(exc.strerror or '').lower()}") from None
    if b"-----BEGIN" not in cert or b"-----BEGIN" not in key:
        raise CommandError("failed to load key pair tls: failed to find any PEM data in the certificate or key "
                           "input")
    import ssl

    try:  # the certificate and key must belong together, as kubectl checks
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(args.cert, args.key)
    except ssl.SSLError as exc:
        raise CommandError(f"failed to load key pair tls: {exc.reason or exc}") from None
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": args.name},
              "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
              "type": "kubernetes.io/tls"}
    return _send(ctx, args, "secrets", secret, failure="secret")


def _service(name: str, svc_type: str | None, ports: list[Obj], selector: dict[str, str] | None,
             labels: dict[str, str] | None) -> Obj:
    spec: Obj = {}
    if ports:
        spec["ports"] = ports
    if selector:
        spec["selector"] = selector
    if svc_type:
        spec["type"] = svc_type
    meta: Obj = {"name": name}
    if labels:
        meta = {"labels": labels, "name": name}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec, "status": {"loadBalancer": {}}}


def cmd_create_service(ctx: Context, args: argparse.Namespace) -> int:
    _check_name(args.name)
    kind = args.service_type
    svc_type = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
                "externalname": "ExternalName"}[kind]
    ports: list[Obj] = []
    for item in getattr(args, "tcp", []):
        port_text, _, target_text = item.partition(":")
        try:
            port = int(port_text)
            target: int | str = int(target_text) if target_text.isdigit() else (target_text or port)
        except ValueError:
            raise CommandError(f"invalid --tcp {item!r}: expected <port>:<targetPort>") from None
        entry: Obj = {"name": f"{port_text}-{target_text or port_text}", "port": port, "protocol": "TCP",
                      "targetPort": target}
        if kind == "nodeport" and args.node_port:
            entry["nodePort"] = args.node_port
        ports.append(entry)
    if kind != "externalname" and not ports and not (kind == "clusterip" and args.clusterip == "None"):
        raise CommandError("at least one tcp port specifier must be provided")
    labels = {"app": args.name}
    svc = _service(args.name, svc_type, ports, labels, labels)
    if kind == "clusterip" and args.clusterip:
        svc["spec"]["clusterIP"] = args.clusterip
    if kind == "externalname":
        svc["spec"]["externalName"] = args.external_name
        svc["spec"] = {"externalName": args.external_name, "selector": labels, "type": "ExternalName"}
    return _send(ctx, args, "services", svc, failure=f"{svc_type} service")


def cmd_create_help(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandError("a type is required: e.g. 'mkctl create service clusterip NAME --tcp=80:8080' or "
                       "'mkctl create secret generic NAME --from-literal=k=v'")


# --- expose ----------------------------------------------------------------------------------

def _selector_of(res: Resource, obj: Obj) -> dict[str, str]:
    spec = obj.get("spec") or {}
    if res.kind == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    if res.kind == "Service":
        return dict(spec.get("selector") or {})
    selector = spec.get("selector") or {}
    if selector.get("matchExpressions"):
        raise CommandError(f"couldn't convert expressions - \"{selector['matchExpressions']}\" to map-based "
                           "selector format")
    return dict(selector.get("matchLabels") or {})


def _ports_of(res: Resource, obj: Obj) -> list[Obj]:
    spec = obj.get("spec") or {}
    if res.kind == "Service":
        return [{"port": p.get("port"), "protocol": p.get("protocol", "TCP"), "name": p.get("name")}
                for p in spec.get("ports") or []]
    pod_spec = spec if res.kind == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    return [{"port": p.get("containerPort"), "protocol": p.get("protocol", "TCP"), "name": p.get("name")}
            for c in pod_spec.get("containers") or [] for p in c.get("ports") or []]


def cmd_expose(ctx: Context, args: argparse.Namespace) -> int:
    targets = targets_from_args(ctx, args.args, verb="expose")
    if len(targets) != 1 or len(targets[0].names) != 1:
        raise CommandError("expose needs exactly one resource: mkctl expose TYPE NAME")
    res, name = targets[0].resource, targets[0].names[0]
    if res.kind not in ("Pod", "Service", "Deployment", "ReplicaSet", "ReplicationController"):
        raise CommandError(f"cannot expose a {res.kind}")
    try:
        obj = get_object(ctx, res, ctx.namespace, name)
    except ApiError as exc:
        raise exc from None
    selector = _labels(args.selector) if args.selector else _selector_of(res, obj)
    if not selector:
        raise CommandError(f"couldn't retrieve selectors via --selector flag or introspection: the {res.kind} "
                           f"{name} has no labels to select its pods by")
    protocol = args.protocol or "TCP"
    ports: list[Obj] = []
    if args.port:
        for text in args.port.split(","):
            ports.append({"port": int(text), "protocol": protocol})
    else:
        ports = [{"port": p["port"], "protocol": p["protocol"]} for p in _ports_of(res, obj) if p["port"]]
        if not ports:
            raise CommandError("couldn't find port via --port flag or introspection")
    for i, p in enumerate(ports):
        if len(ports) > 1:
            p["name"] = f"port-{i + 1}"
        target: Any = args.target_port or p["port"]
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        p["targetPort"] = target
    ordered: list[Obj] = [{k: p[k] for k in ("name", "port", "protocol", "targetPort") if k in p} for p in ports]
    labels = _labels(args.labels) if args.labels else dict((obj.get("metadata") or {}).get("labels") or {})
    svc = _service(args.name or name, args.type, ordered, selector, labels or None)
    svc["metadata"]["namespace"] = ctx.namespace
    if args.external_ip:
        svc["spec"]["externalIPs"] = args.external_ip.split(",")
    return _send(ctx, args, "services", svc, verb="exposed")
