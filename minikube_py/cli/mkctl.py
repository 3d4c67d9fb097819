"""`mkctl`: the kubectl of minikube-py (also `minikube-py kubectl`).

Entry point and command line: the flags kubectl has (global ones anywhere on the line), the
shared `Context` every command gets (kubeconfig, REST client, discovery), and the error
handling that turns every failure into kubectl's one-line message and exit code 1.  The
commands themselves live in the `kubectl_*` modules next to this one, imported only when run,
so that `mkctl get pods` starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from functools import cached_property
from typing import Any, NoReturn

from ..api.errors import ApiError, Unreachable
from ..client.discovery import UnknownResource
from ..client.kubeconfig import ConfigError, Connection, KubeConfig
from ..client.rest import RestClient

PROG = "mkctl"


class CommandError(Exception):
    """A failure the user can fix; printed as `error: <message>`."""


class ExitCode(Exception):
    """Leave with this code; what had to be said was already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Context:
    """What a command needs from the outside world, each part built on first use."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.errors = 0  # errors already printed by a command that goes on (exit code 1 at the end)

    @cached_property
    def config(self) -> KubeConfig:
        return KubeConfig.load(getattr(self.args, "kubeconfig", None))

    @cached_property
    def connection(self) -> Connection:
        a = self.args
        return self.config.connection(
            context=getattr(a, "context", None), cluster=getattr(a, "cluster", None),
            user=getattr(a, "user", None), namespace=getattr(a, "namespace", None),
            server=getattr(a, "server", None), token=getattr(a, "token", None),
            insecure=bool(getattr(a, "insecure_skip_tls_verify", False)))

    @cached_property
    def client(self) -> RestClient:
        timeout = _duration(getattr(self.args, "request_timeout", "0") or "0")
        return RestClient(self.connection, timeout=timeout or 60.0)

    @cached_property
    def discovery(self) -> Any:
        from ..client.discovery import Discovery

        return Discovery(self.client)

    @property
    def namespace(self) -> str:
        return self.connection.namespace

    @property
    def namespace_explicit(self) -> bool:
        return bool(getattr(self.args, "namespace", None))

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr)

    def error(self, message: str) -> None:
        """Print one error and go on; the command exits 1 at the end."""
        print(message, file=sys.stderr)
        self.errors += 1


def server_error(exc: ApiError, action: str = "") -> str:
    """`Error from server (Reason): [action: ]message`, kubectl's wording of a Status."""
    if isinstance(exc, Unreachable):
        return str(exc)  # no answer came: kubectl's own words, not a server's
    status = exc.status()
    reason = str(status.get("reason") or "") or _reason_for(exc.code)
    message = status.get("message") or str(exc)
    return f"Error from server ({reason}): {action + ': ' if action else ''}{message}"


def _reason_for(code: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
            422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}.get(code, "Unknown")


def _duration(text: str) -> float:
    """kubectl durations: `0`, `30s`, `5m`, `1h`, `1m30s`, `500ms`."""
    import re

    text = text.strip()
    if not text:
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise CommandError(f'invalid argument "{text}": time: invalid duration "{text}"')
    return total


duration = _duration


# --- the command line ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with kubectl's error wording (`error: unknown flag: --x`, exit 1) and, on a
    command without subcommands, flags and arguments in any order as kubectl takes them."""

    _intermixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._subparsers is None and not self._intermixing:
            self._intermixing = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            extra = message.split(":", 1)[1].split()
            flag = next((a for a in extra if a.startswith("-")), None)
            message = f"unknown flag: {flag}" if flag else f"unexpected arguments: {' '.join(extra)}"
        elif message.startswith("argument ") and ": " in message:
            flag, _, problem = message[len("argument "):].partition(": ")
            message = f"{flag.split('/')[-1]}: {problem}"
        print(f"error: {message}\nSee '{self.prog} --help' for usage.", file=sys.stderr)
        raise SystemExit(1)


def _global_flags(skip: frozenset[str] = frozenset()) -> argparse.ArgumentParser:
    """Flags that every command accepts, before or after its name (defaults suppressed so a
    flag given before the command is not reset by the subcommand's parser)."""
    g = argparse.ArgumentParser(add_help=False)
    s = argparse.SUPPRESS
    g.add_argument("--kubeconfig", default=s, help="path to the kubeconfig file to use")
    g.add_argument("--context", default=s, help="the kubeconfig context to use")
    if "cluster" not in skip:
        g.add_argument("--cluster", default=s, help="the kubeconfig cluster to use")
    if "user" not in skip:
        g.add_argument("--user", default=s, help="the kubeconfig user to use")
    if "namespace" not in skip:
        g.add_argument("-n", "--namespace", default=s, help="the namespace scope for this request")
    g.add_argument("-s", "--server", default=s, help="the address and port of the Kubernetes API server")
    g.add_argument("--token", default=s, help="bearer token for authentication to the API server")
    g.add_argument("--insecure-skip-tls-verify", action="store_true", default=s,
                   help="do not check the server's certificate (insecure)")
    g.add_argument("--request-timeout", default=s, help="how long to wait for a single request (0: no limit)")
    g.add_argument("-v", "--v", dest="verbosity", default=s, help="log level (accepted for kubectl compatibility)")
    return g


# (module, function) per command; the module is imported only when its command runs
COMMANDS: dict[str, tuple[str, str]] = {}


def _command(sub: Any, parents: list[argparse.ArgumentParser], name: str, module: str, func: str,
             help_text: str, aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    p = sub.add_parser(name, parents=parents, help=help_text, description=help_text, aliases=list(aliases))
    p.set_defaults(handler=(module, func))
    return p


def _output_flags(p: argparse.ArgumentParser, *, default: str = "") -> None:
    p.add_argument("-o", "--output", default=default,
                   help="output format: json|yaml|name|wide|jsonpath=...|custom-columns=...")


def _file_flags(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument("-f", "--filename", action="append", default=[], required=required,
                   help="file, directory or URL with the objects ('-' for stdin)")
    p.add_argument("-R", "--recursive", action="store_true", help="process directories of -f recursively")


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    g = _global_flags()
    parents = [g]
    top = _Parser(prog=prog, parents=parents, description=(
        "mkctl controls the minikube-py cluster manager, with kubectl's commands and flags."))
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    G = "minikube_py.cli.kubectl_get"
    W = "minikube_py.cli.kubectl_write"
    N = "minikube_py.cli.kubectl_generate"
    C = "minikube_py.cli.kubectl_config"
    D = "minikube_py.cli.kubectl_describe"
    S = "minikube_py.cli.kubectl_stream"

    p = _command(sub, parents, "version", C, "cmd_version", "print the client and server version")
    p.add_argument("--client", action="store_true", help="client version only")
    p.add_argument("-o", "--output", choices=["yaml", "json"], default="")
    _command(sub, parents, "api-versions", C, "cmd_api_versions", "print the supported API versions")
    p = _command(sub, parents, "api-resources", C, "cmd_api_resources", "print the supported API resources")
    p.add_argument("--namespaced", choices=["true", "false"], default=None)
    p.add_argument("--api-group", default=None)
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("-o", "--output", choices=["wide", "name"], default="")
    p.add_argument("--sort-by", choices=["name", "kind"], default="")
    p.add_argument("--verbs", action="append", default=[])
    p = _command(sub, parents, "cluster-info", C, "cmd_cluster_info", "display the address of the control plane")
    p.add_argument("rest", nargs="*")

    cfg = _command(sub, parents, "config", C, "cmd_config_help", "modify kubeconfig files")
    csub = cfg.add_subparsers(dest="config_command", metavar="SUBCOMMAND", parser_class=_Parser)
    p = _command(csub, parents, "view", C, "cmd_config_view", "show the merged kubeconfig")
    p.add_argument("--minify", action="store_true")
    p.add_argument("--raw", action="store_true")
    p.add_argument("--flatten", action="store_true")
    _output_flags(p, default="yaml")
    p = _command(csub, parents, "get-contexts", C, "cmd_config_get_contexts", "list the contexts")
    p.add_argument("names", nargs="*")
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("-o", "--output", choices=["name"], default="")
    _command(csub, parents, "current-context", C, "cmd_config_current_context", "print the current context")
    p = _command(csub, parents, "use-context", C, "cmd_config_use_context", "set the current context",
                 aliases=("use",))
    p.add_argument("name")
    p = _command(csub, [_global_flags(frozenset({"namespace", "cluster", "user"}))], "set-context", C,
                 "cmd_config_set_context", "create or change a context")
    p.add_argument("name", nargs="?")
    p.add_argument("--current", action="store_true")
    p.add_argument("--namespace", dest="ctx_namespace", default=None)
    p.add_argument("--cluster", dest="ctx_cluster", default=None)
    p.add_argument("--user", dest="ctx_user", default=None)
    _command(csub, parents, "get-clusters", C, "cmd_config_get_clusters", "list the clusters")

    p = _command(sub, parents, "get", G, "cmd_get", "display one or many resources")
    p.add_argument("args", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    _output_flags(p)
    _file_flags(p)
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--field-selector", default="")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-w", "--watch", action="store_true")
    p.add_argument("--watch-only", action="store_true")
    p.add_argument("--output-watch-events", action="store_true")
    p.add_argument("--show-labels", action="store_true")
    p.add_argument("--show-kind", action="store_true")
    p.add_argument("-L", "--label-columns", action="append", default=[])
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("--sort-by", default="")
    p.add_argument("--ignore-not-found", action="store_true")
    p.add_argument("--chunk-size", type=int, default=500)
    p.add_argument("--raw", default="")

    p = _command(sub, parents, "create", W, "cmd_create", "create objects from files or with a generator")
    _file_flags(p)
    _output_flags(p)
    p.add_argument("--dry-run", choices=["none", "client", "server"], nargs="?", const="client", default="none")
    p.add_argument("--validate", default="strict")
    p.add_argument("--save-config", action="store_true")
    p.add_argument("--edit", action="store_true", help=argparse.SUPPRESS)
    _create_generators(p, parents, N)

    p = _command(sub, parents, "apply", W, "cmd_apply", "apply a configuration by file name or stdin")
    _file_flags(p, required=True)
    _output_flags(p)
    p.add_argument("--dry-run", choices=["none", "client", "server"], nargs="?", const="client", default="none")
    p.add_argument("--validate", default="strict")
    p.add_argument("--force-conflicts", action="store_true")
    p.add_argument("--server-side", action="store_true")

    p = _command(sub, parents, "replace", W, "cmd_replace", "replace objects by file name or stdin")
    _file_flags(p, required=True)
    _output_flags(p)
    p.add_argument("--force", action="store_true")
    p.add_argument("--validate", default="strict")
    p.add_argument("--grace-period", type=int, default=-1)

    p = _command(sub, parents, "delete", W, "cmd_delete", "delete resources")
    p.add_argument("args", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    _file_flags(p)
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--field-selector", default="")
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--cascade", nargs="?", const="background", default="background",
                   choices=["background", "foreground", "orphan", "true", "false"])
    p.add_argument("--grace-period", type=int, default=-1)
    p.add_argument("--force", action="store_true")
    p.add_argument("--now", action="store_true")
    p.add_argument("--wait", nargs="?", const="true", default="true", choices=["true", "false"])
    p.add_argument("--timeout", default="0s")
    p.add_argument("--ignore-not-found", action="store_true")
    _output_flags(p)

    for verb, what in (("label", "labels"), ("annotate", "annotations")):
        p = _command(sub, parents, verb, W, f"cmd_{verb}", f"update the {what} of resources")
        p.add_argument("args", nargs="*", metavar="TYPE NAME KEY=VAL ... KEY-")
        _file_flags(p)
        p.add_argument("--overwrite", action="store_true")
        p.add_argument("--all", action="store_true")
        p.add_argument("-A", "--all-namespaces", action="store_true")
        p.add_argument("-l", "--selector", default="")
        p.add_argument("--field-selector", default="")
        p.add_argument("--list", action="store_true")
        p.add_argument("--resource-version", default="")
        _output_flags(p)

    p = _command(sub, parents, "scale", W, "cmd_scale", "set a new size for a deployment, replica set or stateful set")
    p.add_argument("args", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    _file_flags(p)
    p.add_argument("--replicas", type=int, required=True)
    p.add_argument("--current-replicas", type=int, default=-1)
    p.add_argument("--resource-version", default="")
    p.add_argument("--all", action="store_true")
    p.add_argument("-l", "--selector", default="")
    p.add_argument("--timeout", default="0s")
    _output_flags(p)

    p = _command(sub, parents, "patch", W, "cmd_patch", "update fields of a resource")
    p.add_argument("args", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    _file_flags(p)
    p.add_argument("-p", "--patch", default="")
    p.add_argument("--patch-file", default="")
    p.add_argument("--type", choices=["strategic", "merge", "json"], default="strategic")
    p.add_argument("--subresource", default="")
    _output_flags(p)

    p = _command(sub, parents, "edit", W, "cmd_edit", "edit a resource in your editor")
    p.add_argument("args", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    _file_flags(p)
    _output_flags(p, default="yaml")
    p.add_argument("--subresource", default="")

    p = _command(sub, parents, "describe", D, "cmd_describe", "show details of a resource or group of resources")
    p.add_argument("args", nargs="*", metavar="TYPE [NAME_PREFIX]")
    _file_flags(p)
    p.add_argument("-l", "--selector", default="")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--show-events", nargs="?", const="true", default="true", choices=["true", "false"])

    p = _command(sub, parents, "run", N, "cmd_run", "run a pod with one container")
    p.add_argument("name")
    p.add_argument("command_args", nargs="*", metavar="-- COMMAND ARGS")
    p.add_argument("--image", required=True)
    p.add_argument("--port", default="")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("-l", "--labels", default="")
    p.add_argument("--annotations", action="append", default=[])
    p.add_argument("--restart", choices=["Always", "OnFailure", "Never"], default="Always")
    p.add_argument("--image-pull-policy", default="")
    p.add_argument("--command", action="store_true")
    p.add_argument("--expose", action="store_true")
    p.add_argument("--overrides", default="", help="an inline JSON override for the generated object")
    p.add_argument("--override-type", default="merge", help="how --overrides applies: json, merge, or strategic")
    p.add_argument("--dry-run", choices=["none", "client", "server"], nargs="?", const="client", default="none")
    _output_flags(p)

    p = _command(sub, parents, "expose", N, "cmd_expose", "expose a resource as a new Service")
    p.add_argument("args", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    _file_flags(p)
    p.add_argument("--port", default="")
    p.add_argument("--target-port", default="")
    p.add_argument("--protocol", default="")
    p.add_argument("--type", default="")
    p.add_argument("--name", default="")
    p.add_argument("--selector", default="")
    p.add_argument("-l", "--labels", default="")
    p.add_argument("--external-ip", default="")
    p.add_argument("--dry-run", choices=["none", "client", "server"], nargs="?", const="client", default="none")
    _output_flags(p)

    R = "minikube_py.cli.kubectl_rollout"
    ro = _command(sub, parents, "rollout", R, "cmd_rollout_help", "manage the rollout of a resource")
    rsub = ro.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND", parser_class=_Parser)
    for name in ("status", "history", "undo", "restart", "pause", "resume"):
        p = _command(rsub, parents, name, R, f"cmd_rollout_{name}", f"rollout {name}")
        p.add_argument("args", nargs="*", metavar="TYPE NAME | TYPE/NAME")
        _file_flags(p)
        p.add_argument("-l", "--selector", default="")
        if name == "status":
            p.add_argument("-w", "--watch", nargs="?", const="true", default="true", choices=["true", "false"])
            p.add_argument("--timeout", default="0s")
            p.add_argument("--revision", type=int, default=0)
        if name in ("history", "undo"):
            p.add_argument("--revision", type=int, default=0)
        if name != "status":
            _output_flags(p)

    p = _command(sub, parents, "logs", S, "cmd_logs", "print the logs of a container in a pod")
    p.add_argument("args", nargs="*", metavar="POD [CONTAINER]")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-p", "--previous", action="store_true")
    p.add_argument("--tail", type=int, default=-1)
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("--since", default="")
    p.add_argument("--limit-bytes", type=int, default=0)
    p.add_argument("--all-containers", action="store_true")
    for name, func in (("exec", "cmd_exec"), ("attach", "cmd_attach")):
        p = _command(sub, parents, name, S, func, f"{name} into a container")
        p.add_argument("args", nargs="*", metavar="POD [-- COMMAND ARGS...]")
        p.add_argument("-c", "--container", default="")
        p.add_argument("-i", "--stdin", action="store_true")
        p.add_argument("-t", "--tty", action="store_true")
        p.add_argument("-q", "--quiet", action="store_true")
    p = _command(sub, parents, "trace", "minikube_py.cli.kubectl_trace", "cmd_trace",
                 "watch the control loops reconcile (minikube-py's own command)")
    p.add_argument("target", nargs="?", default="", metavar="TYPE/NAME",
                   help="only the passes about this object and what it owns (by name prefix)")
    p.add_argument("--controller", default="", help="only this controller (part of its name)")
    p.add_argument("--recent", type=int, default=0, help="first print the last N recorded passes")
    p.add_argument("--no-watch", action="store_true", help="print the recent passes and exit")
    p.add_argument("-o", "--output", choices=["", "json"], default="")
    p = _command(sub, parents, "port-forward", "minikube_py.cli.kubectl_portforward", "cmd_port_forward",
                 "forward local ports to a pod")
    p.add_argument("args", nargs="*", metavar="TYPE/NAME [LOCAL_PORT:]REMOTE_PORT...")
    p.add_argument("--address", action="append", default=[])
    return top


def _create_generators(create: argparse.ArgumentParser, parents: list[argparse.ArgumentParser], module: str) -> None:
    sub = create.add_subparsers(dest="generator", metavar="GENERATOR", parser_class=_Parser)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", default="")
    common.add_argument("--dry-run", choices=["none", "client", "server"], nargs="?", const="client",
                        default="none")
    common.add_argument("--validate", default="strict")
    common.add_argument("--save-config", action="store_true")
    ps = [*parents, common]

    p = _command(sub, ps, "deployment", module, "cmd_create_deployment", "create a deployment", aliases=("deploy",))
    p.add_argument("name")
    p.add_argument("command_args", nargs="*", metavar="-- COMMAND ARGS")
    p.add_argument("--image", action="append", default=[], required=True)
    p.add_argument("-r", "--replicas", type=int, default=1)
    p.add_argument("--port", type=int, default=-1)

    svc = _command(sub, ps, "service", module, "cmd_create_help", "create a service", aliases=("svc",))
    ssub = svc.add_subparsers(dest="service_type", metavar="TYPE", parser_class=_Parser)
    for kind in ("clusterip", "nodeport", "loadbalancer", "externalname"):
        p = _command(ssub, ps, kind, module, "cmd_create_service", f"create a {kind} service")
        p.add_argument("name")
        p.add_argument("--tcp", action="append", default=[])
        if kind == "clusterip":
            p.add_argument("--clusterip", default="")
        if kind == "nodeport":
            p.add_argument("--node-port", type=int, default=0)
        if kind == "externalname":
            p.add_argument("--external-name", required=True)

    p = _command(sub, ps, "configmap", module, "cmd_create_configmap", "create a config map", aliases=("cm",))
    p.add_argument("name")
    p.add_argument("--from-literal", action="append", default=[])
    p.add_argument("--from-file", action="append", default=[])
    p.add_argument("--from-env-file", action="append", default=[])
    p.add_argument("--append-hash", action="store_true")

    sec = _command(sub, ps, "secret", module, "cmd_create_help", "create a secret")
    ssub = sec.add_subparsers(dest="secret_type", metavar="TYPE", parser_class=_Parser)
    p = _command(ssub, ps, "generic", module, "cmd_create_secret_generic", "create a generic secret")
    p.add_argument("name")
    p.add_argument("--from-literal", action="append", default=[])
    p.add_argument("--from-file", action="append", default=[])
    p.add_argument("--from-env-file", action="append", default=[])
    p.add_argument("--type", default="")
    p = _command(ssub, ps, "tls", module, "cmd_create_secret_tls", "create a TLS secret")
    p.add_argument("name")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)

    p = _command(sub, ps, "namespace", module, "cmd_create_namespace", "create a namespace", aliases=("ns",))
    p.add_argument("name")


def _split_dashdash(argv: list[str]) -> tuple[list[str], list[str] | None]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, None


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    head, tail = _split_dashdash(argv)
    parser = build_parser(prog)
    try:
        args, extra = parser.parse_known_args(head)
        if extra:
            words = [w for w in (getattr(args, "command", None), getattr(args, "config_command", None),
                                 getattr(args, "rollout_command", None), getattr(args, "generator", None)) if w]
            flag = next((a for a in extra if a.startswith("-")), None)
            problem = f"unknown flag: {flag}" if flag else f"unexpected arguments: {' '.join(extra)}"
            print(f"error: {problem}\nSee '{' '.join([prog, *words])} --help' for usage.", file=sys.stderr)
            return 1
        args.after_dashdash = tail
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 0
        module, func = handler
        ctx = Context(args)
        code = getattr(importlib.import_module(module), func)(ctx, args)
        return int(code or (1 if ctx.errors else 0))
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except ExitCode as exc:
        return exc.code
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Unreachable as exc:  # before ApiError: it is one, but kubectl words it on its own
        print(str(exc), file=sys.stderr)
        return 1
    except ApiError as exc:
        print(server_error(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except UnknownResource as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one line, not a traceback
        if os.environ.get("MKCTL_DEBUG"):
            raise
        print(f"error: internal error in {prog} ({type(exc).__name__}: {exc}); rerun with MKCTL_DEBUG=1 for the "
              "traceback and please report it", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # `python -m minikube_py.cli.mkctl`: run the imported module, not __main__,
    from minikube_py.cli.mkctl import entry as _entry  # so that the commands share its exception classes

    _entry()
