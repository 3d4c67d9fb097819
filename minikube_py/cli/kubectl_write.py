"""mkctl commands that change objects: create -f, apply, replace, delete, label, annotate, scale,
patch and edit, with kubectl's messages (`deployment.apps/web configured`, `pod "x" deleted from
default namespace`) and error lines.

Called by minikube_py.cli.mkctl.  Every object of a multi-object command is tried; the errors are
printed as they come and the command exits 1 at the end, as kubectl does.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any

import yaml

from ..api.errors import AlreadyExists, ApiError, Conflict, NotFound
from ..client.discovery import Resource
from .kubectl_get import parse_output, print_objects
from .kubectl_resources import (
    Obj,
    error_when,
    get_object,
    list_objects,
    manifest_target,
    named_targets,
    quoted_name,
    read_manifests,
    targets_from_args,
    typed_name,
)
from .mkctl import CommandError, Context, duration, server_error
from .printing import to_yaml

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
STRICT = {"fieldValidation": "Strict"}


def _validation(args: argparse.Namespace) -> dict[str, str]:
    value = str(getattr(args, "validate", "strict")).lower()
    mode = {"true": "Strict", "strict": "Strict", "warn": "Warn", "false": "Ignore", "ignore": "Ignore"}.get(value)
    if mode is None:
        raise CommandError(f'invalid - validate option "{value}"; must be one of: strict (or true), warn, '
                           "ignore (or false)")
    return {"fieldValidation": mode}


def _dry_run(args: argparse.Namespace) -> dict[str, str]:
    return {"dryRun": "All"} if getattr(args, "dry_run", "none") == "server" else {}


def _suffix(args: argparse.Namespace) -> str:
    mode = getattr(args, "dry_run", "none")
    return {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")


def _report(ctx: Context, args: argparse.Namespace, res: Resource, obj: Obj, verb: str) -> None:
    """`kind.group/name verb`, or the object in the -o format."""
    if getattr(args, "output", ""):
        fmt = parse_output(args.output)
        if fmt.kind != "table":
            obj.setdefault("apiVersion", res.group_version)
            obj.setdefault("kind", res.kind)
            print_objects([obj], fmt, single=True)
            return
    print(f"{typed_name(res, (obj.get('metadata') or {}).get('name', ''))} {verb}{_suffix(args)}")


# --- create -f -------------------------------------------------------------------------------

def cmd_create(ctx: Context, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CommandError("must specify one of -f and -k")
    for m in read_manifests(args.filename, args.recursive):
        res, ns, _ = manifest_target(ctx, m)
        body = m.obj
        if args.save_config:
            _set_last_applied(body, ns)
        if args.dry_run == "client":
            _report(ctx, args, res, body, "created")
            continue
        try:
            created = ctx.client.request("POST", res.path(ns), params={**_validation(args), **_dry_run(args)},
                                         body=body).json()
        except ApiError as exc:
            ctx.error(error_when(exc, "creating", m.source))
            continue
        _report(ctx, args, res, created, "created")
    return 0


# --- apply -----------------------------------------------------------------------------------

def _set_last_applied(obj: Obj, namespace: str | None) -> Obj:
    """Put the last-applied annotation on `obj` (kubectl's shape: sorted compact JSON + newline)."""
    meta = obj.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    meta["annotations"] = annotations
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
    meta["annotations"] = {**annotations, LAST_APPLIED: text}
    return obj


def cmd_apply(ctx: Context, args: argparse.Namespace) -> int:
    if args.server_side:
        raise CommandError("server-side apply is not supported by minikube-py yet; use client-side apply "
                           "(drop --server-side)")
    from ..client.strategic import PatchMeta, three_way_patch

    docs: dict[str, Any] = {}
    for m in read_manifests(args.filename, args.recursive):
        res, ns, name = manifest_target(ctx, m)
        if not name:
            ctx.error(f'error: error when retrieving current configuration of "{m.source}": '
                      "resource name may not be empty")
            continue
        modified = _set_last_applied(m.obj, ns)
        for attempt in range(5):
            try:
                current = get_object(ctx, res, ns, name)
            except ApiError as exc:
                if not isinstance(exc, NotFound):
                    ctx.error(server_error(exc, f'error when retrieving current configuration of:\n'
                                                f'Resource: "{res.qualified}", Name: "{name}", '
                                                f'Namespace: "{ns or ""}"\nfrom server for: "{m.source}"'))
                    break
                if args.dry_run == "client":
                    _report(ctx, args, res, modified, "created")
                    break
                try:
                    created = ctx.client.request("POST", res.path(ns), body=modified,
                                                 params={**_validation(args), **_dry_run(args)}).json()
                except ApiError as exc2:
                    if isinstance(exc2, (Conflict, AlreadyExists)) and attempt < 4:
                        continue  # created meanwhile: apply to it
                    ctx.error(error_when(exc2, "creating", m.source))
                    break
                _report(ctx, args, res, created, "created")
                break
            annotations = (current.get("metadata") or {}).get("annotations") or {}
            original = None
            if LAST_APPLIED in annotations:
                try:
                    original = json.loads(annotations[LAST_APPLIED])
                except ValueError:
                    original = None
            else:
                ctx.warn(f"Warning: resource {res.name}/{name} is missing the {LAST_APPLIED} annotation "
                         "which is required by mkctl apply. mkctl apply should only be used on resources created "
                         "declaratively by either mkctl create --save-config or mkctl apply. The missing "
                         "annotation will be patched automatically.")
            doc_key = res.group_version
            if doc_key not in docs:
                docs[doc_key] = _openapi_doc(ctx, res)
            meta = PatchMeta.for_kind(docs[doc_key], res.group, res.version, res.kind)
            patch = three_way_patch(original, modified, current, meta)
            if not patch:
                _report(ctx, args, res, current, "unchanged")
                break
            if args.dry_run == "client":
                _report(ctx, args, res, current, "configured")
                break
            patch.setdefault("metadata", {})["resourceVersion"] = current["metadata"].get("resourceVersion")
            try:
                patched = ctx.client.request(
                    "PATCH", res.path(ns, name), body=patch, content_type="application/strategic-merge-patch+json",
                    params={**_validation(args), **_dry_run(args)}).json()
            except ApiError as exc:
                if isinstance(exc, (Conflict, AlreadyExists)) and attempt < 4:
                    continue  # changed under us: read it again and recompute
                ctx.error(error_when(exc, "patching", m.source))
                break
            _report(ctx, args, res, patched, "configured")
            break
    return 0


def _openapi_doc(ctx: Context, res: Resource) -> dict[str, Any]:
    index = ctx.client.get("/openapi/v3")
    key = f"apis/{res.group}/{res.version}" if res.group else f"api/{res.version}"
    entry = (index.get("paths") or {}).get(key) or {}
    url = entry.get("serverRelativeURL") or f"/openapi/v3/{key}"
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    doc: dict[str, Any] = ctx.client.get(path, **params)
    return doc


# --- replace ---------------------------------------------------------------------------------

def cmd_replace(ctx: Context, args: argparse.Namespace) -> int:
    for m in read_manifests(args.filename, args.recursive):
        res, ns, name = manifest_target(ctx, m)
        try:
            if args.force:
                try:
                    _delete_one(ctx, args, res, ns, name, wait=True, quiet=False)
                except ApiError as exc:
                    if not isinstance(exc, NotFound):
                        raise
                m.obj["metadata"].pop("resourceVersion", None)
                obj = ctx.client.request("POST", res.path(ns), body=m.obj, params=_validation(args)).json()
            else:
                obj = ctx.client.request("PUT", res.path(ns, name), body=m.obj, params=_validation(args)).json()
        except ApiError as exc:
            ctx.error(error_when(exc, "replacing", m.source))
            continue
        _report(ctx, args, res, obj, "replaced")
    return 0


# --- delete ----------------------------------------------------------------------------------

def _delete_options(args: argparse.Namespace) -> Obj:
    cascade = {"true": "background", "false": "orphan"}.get(args.cascade, args.cascade)
    body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": cascade.capitalize()}
    grace = args.grace_period
    if args.now:
        grace = 1
    if args.force and grace < 0:
        grace = 0
    if grace >= 0:
        body["gracePeriodSeconds"] = grace
    return body


def _deleted_uid(body: Obj | None) -> str | None:
    """The uid from a DELETE's answer: the object (pending, or a kind that returns it) or a Status."""
    body = body or {}
    uid = (body.get("metadata") or {}).get("uid") or (body.get("details") or {}).get("uid")
    return str(uid) if uid else None


def _delete_one(ctx: Context, args: argparse.Namespace, res: Resource, ns: str | None, name: str, *,
                wait: bool, quiet: bool = False) -> None:
    body = _delete_options(args) if hasattr(args, "cascade") else {"kind": "DeleteOptions", "apiVersion": "v1"}
    resp = ctx.client.request("DELETE", res.path(ns, name), body=body)
    uid = _deleted_uid(resp.json()) if resp.body else None
    if not quiet:
        where = f" from {ns} namespace" if ns else ""
        print(f"{quoted_name(res, name)} deleted{where}")
        sys.stdout.flush()
    if wait:
        _wait_gone(ctx, args, res, ns, name, uid)


def _wait_gone(ctx: Context, args: argparse.Namespace, res: Resource, ns: str | None, name: str,
               uid: str | None) -> None:
    limit = duration(getattr(args, "timeout", "0s") or "0s") or 7 * 24 * 3600.0
    start = time.monotonic()
    next_note = 10.0
    delay = 0.05
    while True:
        try:
            obj = ctx.client.get(res.path(ns, name))
        except ApiError as exc:
            if isinstance(exc, NotFound):
                return
            raise
        if uid and (obj.get("metadata") or {}).get("uid") != uid:
            return  # a new object of the same name: ours is gone
        waited = time.monotonic() - start
        if waited > limit:
            raise CommandError(f"timed out waiting for the condition on {res.qualified}/{name}")
        if waited >= next_note:
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            why = f" (finalizers: {', '.join(finalizers)})" if finalizers else ""
            ctx.warn(f"mkctl: still waiting for {res.kind_qualified} \"{name}\" to be deleted after "
                     f"{int(waited)}s{why}; --wait=false returns at once")
            next_note += 10.0
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def cmd_delete(ctx: Context, args: argparse.Namespace) -> int:
    if args.force and args.grace_period in (-1, 0):
        ctx.warn("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
                 "terminated. The resource may continue to run on the cluster indefinitely.")
    wait = args.wait == "true"
    items: list[tuple[Resource, str | None, str]] = []
    if args.filename:
        for m in read_manifests(args.filename, args.recursive):
            items.append(manifest_target(ctx, m))
    else:
        targets = targets_from_args(ctx, args.args, verb="delete")
        for t in targets:
            ns = (None if args.all_namespaces else ctx.namespace) if t.resource.namespaced else None
            if t.names:
                if args.all or args.selector:
                    raise CommandError("name cannot be provided when a selector is specified" if args.selector
                                       else "names cannot be provided when --all is specified")
                items.extend((t.resource, ns, n) for n in t.names)
            elif args.all or args.selector or args.field_selector:
                objs, _ = list_objects(ctx, t.resource, ns, selector=args.selector,
                                       field_selector=args.field_selector)
                items.extend((t.resource, (o["metadata"].get("namespace") if t.resource.namespaced else None),
                              o["metadata"]["name"]) for o in objs)
            else:
                raise CommandError("resource(s) were provided, but no name was specified")
        if not items:
            print("No resources found", file=sys.stderr)
            return 0
    deleted: list[tuple[Resource, str | None, str, str | None]] = []
    for res, ns, name in items:
        try:
            resp = ctx.client.request("DELETE", res.path(ns, name), body=_delete_options(args))
        except ApiError as exc:
            if isinstance(exc, NotFound) and args.ignore_not_found:
                continue
            ctx.error(server_error(exc) if not args.filename else error_when(exc, "deleting", args.filename[0]))
            continue
        where = f" from {ns} namespace" if ns else ""
        if args.output == "name":
            print(typed_name(res, name))
        else:
            print(f"{quoted_name(res, name)} deleted{where}")
        sys.stdout.flush()
        uid = _deleted_uid(resp.json()) if resp.body else None
        deleted.append((res, ns, name, uid))
    if wait:
        for res, ns, name, uid in deleted:
            _wait_gone(ctx, args, res, ns, name, uid)
    return 0


# --- label / annotate ------------------------------------------------------------------------

def _split_changes(words: list[str], what: str) -> tuple[list[str], dict[str, str], list[str]]:
    """`TYPE NAME k=v k2-` -> (resource words, additions, removals)."""
    resource_words: list[str] = []
    add: dict[str, str] = {}
    remove: list[str] = []
    for w in words:
        if "=" in w:
            k, _, v = w.partition("=")
            if not k:
                raise CommandError(f"invalid {what} spec: {w}")
            add[k] = v
        elif w.endswith("-") and len(w) > 1 and resource_words:
            remove.append(w[:-1])
        else:
            resource_words.append(w)
    for k in remove:
        if k in add:
            raise CommandError(f"can not both modify and remove {what} in the same command")
    if not add and not remove and what == "label":
        raise CommandError("at least one label update is required")
    if not add and not remove:
        raise CommandError("at least one annotation update is required")
    return resource_words, add, remove


def _label_like(ctx: Context, args: argparse.Namespace, field: str, what: str, past: str) -> int:
    words, add, remove = _split_changes(args.args, what)
    objects: list[tuple[Resource, Obj]] = []
    if args.filename:
        for m in read_manifests(args.filename, args.recursive):
            res, ns, name = manifest_target(ctx, m)
            objects.append((res, get_object(ctx, res, ns, name)))
    else:
        for t in targets_from_args(ctx, words, verb=what):
            ns = (None if args.all_namespaces else ctx.namespace) if t.resource.namespaced else None
            if t.names:
                for n in t.names:
                    try:
                        objects.append((t.resource, get_object(ctx, t.resource, ns, n)))
                    except ApiError as exc:
                        ctx.error(server_error(exc))
            elif args.all or args.selector or args.field_selector:
                objs, _ = list_objects(ctx, t.resource, ns, selector=args.selector, field_selector=args.field_selector)
                objects.extend((t.resource, o) for o in objs)
            else:
                raise CommandError("resource(s) were provided, but no name was specified")
    for res, obj in objects:
        meta = obj.get("metadata") or {}
        current: dict[str, str] = dict(meta.get(field) or {})
        if args.list:
            for k, v in sorted(current.items()):
                print(f"{k}={v}")
            continue
        if not args.overwrite:
            for k, v in add.items():
                if k in current and current[k] != v:
                    raise CommandError(f"'{k}' already has a value ({current[k]}), and --overwrite is false")
        new = dict(current)
        new.update(add)
        for k in remove:
            if k not in new:
                print(f'{what} "{k}" not found.')
            new.pop(k, None)
        name = meta.get("name", "")
        if new == current:
            print(f"{typed_name(res, name)} not {past}")
            continue
        patch: Obj = {"metadata": {field: {**{k: v for k, v in add.items()}, **{k: None for k in remove}}}}
        if args.resource_version:
            patch["metadata"]["resourceVersion"] = args.resource_version
        try:
            updated = ctx.client.request("PATCH", res.path(meta.get("namespace") if res.namespaced else None, name),
                                         body=patch, content_type="application/merge-patch+json").json()
        except ApiError as exc:
            ctx.error(server_error(exc))
            continue
        verb = past
        if what == "label" and not args.overwrite and len(new) < len(current):
            verb = "unlabeled"
        if args.output:
            _report(ctx, args, res, updated, verb)
        else:
            print(f"{typed_name(res, name)} {verb}")
    return 0


def cmd_label(ctx: Context, args: argparse.Namespace) -> int:
    return _label_like(ctx, args, "labels", "label", "labeled")


def cmd_annotate(ctx: Context, args: argparse.Namespace) -> int:
    return _label_like(ctx, args, "annotations", "annotation", "annotated")


# --- scale -----------------------------------------------------------------------------------

def cmd_scale(ctx: Context, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise CommandError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    items = named_targets(ctx, args, "scale", no_name="resource(s) were provided, but no name was specified",
                          selector=args.selector, allow_all=args.all)
    for res, ns, name in items:
        if not ctx.discovery.has_subresource(res, "scale"):
            ctx.error(f'error: no scaler has been implemented for {{"{res.group}" "{res.kind}"}}')
            continue
        path = res.path(ns, name, "scale")
        try:
            if args.current_replicas >= 0 or args.resource_version:
                scale = ctx.client.get(path)
                have = (scale.get("spec") or {}).get("replicas", 0)
                if args.current_replicas >= 0 and have != args.current_replicas:
                    raise CommandError(f"Expected replicas to be {args.current_replicas}, was {have}")
                if args.resource_version and scale["metadata"].get("resourceVersion") != args.resource_version:
                    raise CommandError(f"Expected resourceVersion to be {args.resource_version}, was "
                                       f"{scale['metadata'].get('resourceVersion')}")
            patch: Obj = {"spec": {"replicas": args.replicas}}
            if args.resource_version:
                patch["metadata"] = {"resourceVersion": args.resource_version}
            ctx.client.request("PATCH", path, body=patch, content_type="application/merge-patch+json")
        except ApiError as exc:
            ctx.error(server_error(exc))
            continue
        print(f"{typed_name(res, name)} scaled")
    return 0


# --- patch -----------------------------------------------------------------------------------

PATCH_TYPES = {"strategic": "application/strategic-merge-patch+json", "merge": "application/merge-patch+json",
               "json": "application/json-patch+json"}


def cmd_patch(ctx: Context, args: argparse.Namespace) -> int:
    text = args.patch
    if args.patch_file:
        try:
            text = open(args.patch_file).read()
        except OSError as exc:
            raise CommandError(f"unable to read patch file {args.patch_file}: {exc.strerror}") from None
    if not text:
        raise CommandError("must specify --patch or --patch-file containing the contents of the patch")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CommandError(f"unable to parse \"{text}\": {str(exc).splitlines()[0]}") from None
    if args.type == "json" and not isinstance(body, list):
        raise CommandError("json patch must be a list of operations")
    if args.type != "json" and not isinstance(body, dict):
        raise CommandError(f'unable to parse "{text}": the patch must be a JSON object')
    items = named_targets(ctx, args, "patch", no_name="resource(s) were provided, but no name was specified")
    for res, ns, name in items:
        try:
            before = ctx.client.get(res.path(ns, name, args.subresource or None))
            after = ctx.client.request("PATCH", res.path(ns, name, args.subresource or None), body=body,
                                       content_type=PATCH_TYPES[args.type]).json()
        except ApiError as exc:
            ctx.error(server_error(exc))
            continue
        changed = before != after
        if args.output:
            _report(ctx, args, res, after, "patched")
        else:
            print(f"{typed_name(res, name)} patched{'' if changed else ' (no change)'}")
    return 0


# --- edit ------------------------------------------------------------------------------------

EDIT_HEADER = (
    "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
    "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
    "# reopened with the relevant failures.\n#\n")


def _editor() -> list[str]:
    for var in ("KUBE_EDITOR", "EDITOR"):
        value = os.environ.get(var)
        if value:
            return shlex.split(value)
    return ["vi"]


def cmd_edit(ctx: Context, args: argparse.Namespace) -> int:
    for res, ns, name in named_targets(ctx, args, "edit", no_name="edit needs a name: mkctl edit TYPE NAME"):
        _edit_one(ctx, args, res, ns, name)
    return 0


def _edit_one(ctx: Context, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
    original = get_object(ctx, res, ns, name)
    as_json = args.output == "json"
    text = json.dumps(original, indent=4, sort_keys=True) + "\n" if as_json else to_yaml(original)
    errors: list[str] = []
    previous: str | None = None
    while True:
        banner = EDIT_HEADER
        if errors:
            banner += "".join(f"# {line}\n" for e in errors for line in e.splitlines()) + "#\n"
        with tempfile.NamedTemporaryFile("w", suffix=".json" if as_json else ".yaml", prefix=f"mkctl-edit-{name}-",
                                         delete=False) as f:
            f.write(banner + text)
            path = f.name
        try:
            try:
                code = subprocess.call([*_editor(), path])
            except OSError as exc:
                raise CommandError(f"unable to launch the editor {_editor()[0]!r}: {exc.strerror}; set KUBE_EDITOR "
                                   "or EDITOR") from None
            if code != 0:
                raise CommandError(f"there was a problem with the editor {' '.join(_editor())!r}")
            with open(path) as fh:
                edited = fh.read()
        finally:
            os.unlink(path)
        body = "".join(line for line in edited.splitlines(keepends=True) if not line.lstrip().startswith("#"))
        if not body.strip():
            print("Edit cancelled, no changes made.")
            return
        if previous is not None and body == previous:
            with tempfile.NamedTemporaryFile("w", suffix=".json" if as_json else ".yaml", prefix="mkctl-edit-",
                                             delete=False) as copy:
                copy.write(edited)
            print(f'error: {res.qualified} "{name}" is invalid', file=sys.stderr)
            print(f'A copy of your changes has been stored to "{copy.name}"', file=sys.stderr)
            raise CommandError("Edit cancelled, no valid changes were saved.")
        try:
            new = yaml.safe_load(body)
            if not isinstance(new, dict):
                raise ValueError("the edited file is not an object")
        except (yaml.YAMLError, ValueError) as exc:
            errors = [f"The edited file had a syntax error: {str(exc).splitlines()[0]}"]
            text, previous = body, body
            continue
        if new == original:
            print("Edit cancelled, no changes made.")
            return
        patch = _merge_diff(original, new)
        patch.setdefault("metadata", {})["resourceVersion"] = original["metadata"].get("resourceVersion")
        try:
            ctx.client.request("PATCH", res.path(ns, name), body=patch, content_type="application/merge-patch+json",
                               params=STRICT)
        except ApiError as exc:
            errors = [f'{res.qualified} "{name}" was not valid:'] + [
                f"* {c.get('field', '')}: {c.get('message', '')}" if c.get("field") else f"* {c.get('message', '')}"
                for c in ((exc.status().get("details") or {}).get("causes") or [])] or [exc.status().get("message", "")]
            if len(errors) == 1:
                errors.append(f"* {exc.status().get('message', '')}")
            text, previous = body, body
            continue
        print(f"{typed_name(res, name)} edited")
        return


def _merge_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch from `old` to `new` (RFC 7386)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: Obj = {}
    for k, v in new.items():
        if k not in old:
            patch[k] = v
        elif old[k] != v:
            patch[k] = _merge_diff(old[k], v) if isinstance(v, dict) and isinstance(old[k], dict) else v
    for k in old:
        if k not in new:
            patch[k] = None
    return patch
