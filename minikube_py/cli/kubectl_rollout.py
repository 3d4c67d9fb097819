"""`mkctl rollout status|history|undo|restart|pause|resume` for Deployments (and StatefulSets
where kubectl supports them), with kubectl's messages.

`status` watches the object and prints kubectl's progress lines until the rollout completes, the
Progressing condition reports ProgressDeadlineExceeded, or --timeout passes.  Called by
minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..api.errors import ApiError
from ..api.times import now_iso
from ..client.discovery import Resource
from .kubectl_resources import (
    Obj,
    get_object,
    list_objects,
    named_targets,
)
from .mkctl import CommandError, Context, duration, server_error
from .printing import tabwrite

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
ROLLABLE = ("Deployment", "StatefulSet", "DaemonSet")


def _items(ctx: Context, args: argparse.Namespace) -> list[tuple[Resource, str | None, str]]:
    out = named_targets(ctx, args, "rollout", no_name="required resource not specified", selector=args.selector)
    for res, _, _ in out:
        if res.kind not in ROLLABLE:
            raise CommandError(f'no {"status viewer" if args.rollout_command == "status" else "rollbacker"} has '
                               f"been implemented for {{\"{res.group}\" \"{res.kind}\"}}")
    return out


def cmd_rollout_help(ctx: Context, args: argparse.Namespace) -> int:
    raise CommandError("a subcommand is required: status, history, undo, restart, pause, resume")


# --- status ----------------------------------------------------------------------------------

def _deployment_status(obj: Obj) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer: (message, done)."""
    name = obj["metadata"]["name"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if obj["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...\n", False
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            raise CommandError(f'deployment "{name}" exceeded its progress deadline')
    want = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have '
                "been updated...\n"), False
    if total > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                "termination...\n"), False
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                "are available...\n"), False
    return f'deployment "{name}" successfully rolled out\n', True


def _statefulset_status(obj: Obj) -> tuple[str, bool]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return "Waiting for statefulset spec update to be observed...\n", False
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return f"Waiting for {want - ready} pods to be ready...\n", False
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = ((strategy.get("rollingUpdate") or {}).get("partition")) or 0
        if partition > 0 and status.get("updatedReplicas", 0) < want - partition:
            return (f"Waiting for partitioned roll out to finish: {status.get('updatedReplicas', 0)} out of "
                    f"{want - partition} new pods have been updated...\n"), False
        if status.get("updateRevision") != status.get("currentRevision") and partition == 0:
            return (f"Waiting for {want - status.get('updatedReplicas', 0)} pods to be updated...\n"
                    if status.get("updatedReplicas", 0) < want else
                    f"waiting for statefulset rolling update to complete {status.get('updatedReplicas', 0)} pods at "
                    f"revision {status.get('updateRevision')}...\n"), False
    return (f"statefulset rolling update complete {status.get('currentReplicas', want)} pods at revision "
            f"{status.get('currentRevision', '')}...\n"), True


def cmd_rollout_status(ctx: Context, args: argparse.Namespace) -> int:
    timeout = duration(args.timeout) or None
    for res, ns, name in _items(ctx, args):
        viewer = _deployment_status if res.kind == "Deployment" else _statefulset_status
        start = time.monotonic()
        last = ""
        obj = get_object(ctx, res, ns, name)
        while True:
            message, done = viewer(obj)
            if message != last:
                sys.stdout.write(message)
                sys.stdout.flush()
                last = message
            if done or args.watch == "false":
                break
            if timeout is not None and time.monotonic() - start > timeout:
                raise CommandError("timed out waiting for the condition")
            obj = _next_version(ctx, res, ns, name, obj, timeout, start)
    return 0


def _next_version(ctx: Context, res: Resource, ns: str | None, name: str, obj: Obj, timeout: float | None,
                  start: float) -> Obj:
    """Block on a watch of the object until it changes (or a short time passes), then return it."""
    rv = obj["metadata"].get("resourceVersion")
    remaining = None if timeout is None else max(1.0, timeout - (time.monotonic() - start))
    params: dict[str, Any] = {"watch": "true", "resourceVersion": rv, "fieldSelector": f"metadata.name={name}",
                              "timeoutSeconds": int(min(remaining or 30, 30))}
    try:
        for line in ctx.client.stream(res.path(ns), params):
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("type") == "DELETED":
                raise CommandError("object has been deleted")
            if event.get("type") in ("ADDED", "MODIFIED"):
                new: Obj = event["object"]
                return new
            if event.get("type") == "ERROR":
                break
    except ApiError:
        pass
    return get_object(ctx, res, ns, name)


# --- history / undo --------------------------------------------------------------------------

def _owned_replicasets(ctx: Context, dep: Obj) -> list[Obj]:
    ns = dep["metadata"].get("namespace")
    selector = ",".join(f"{k}={v}" for k, v in sorted(((dep.get("spec") or {}).get("selector") or {})
                                                      .get("matchLabels", {}).items()))
    rs_res = ctx.discovery.resolve("replicasets.apps")[0]
    items, _ = list_objects(ctx, rs_res, ns, selector=selector)
    uid = dep["metadata"].get("uid")
    return [rs for rs in items if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])]


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def cmd_rollout_history(ctx: Context, args: argparse.Namespace) -> int:
    for res, ns, name in _items(ctx, args):
        obj = get_object(ctx, res, ns, name)
        if res.kind != "Deployment":
            raise CommandError(f"rollout history for {res.kind} needs controller revisions, which minikube-py "
                               "does not keep yet")
        history = sorted(((_revision(rs), rs) for rs in _owned_replicasets(ctx, obj)), key=lambda x: x[0])
        history = [(r, rs) for r, rs in history if r > 0]
        if args.revision:
            match = [rs for r, rs in history if r == args.revision]
            if not match:
                raise CommandError(f"unable to find the specified revision {args.revision}")
            from .kubectl_describe import _W, _pod_template

            w = _W()
            w.write(0, "Pod Template:\n")
            _pod_template(w, 1, match[0]["spec"].get("template") or {})
            print(f"{res.kind_qualified}/{name} with revision #{args.revision}")
            sys.stdout.write(w.text())
            continue
        print(f"{res.kind_qualified}/{name} ")
        if not history:
            print("No rollout history found.")
            continue
        rows = [["REVISION", "CHANGE-CAUSE"]]
        for r, rs in history:
            rows.append([str(r), (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE, "<none>")])
        sys.stdout.write(tabwrite("\n".join("\t".join(r) for r in rows)) + "\n\n")
    return 0


def cmd_rollout_undo(ctx: Context, args: argparse.Namespace) -> int:
    for res, ns, name in _items(ctx, args):
        if res.kind != "Deployment":
            raise CommandError(f'no rollbacker has been implemented for {{"{res.group}" "{res.kind}"}}')
        dep = get_object(ctx, res, ns, name)
        if (dep.get("spec") or {}).get("paused"):
            raise CommandError(f"you cannot rollback a paused deployment; resume it first with 'mkctl rollout "
                               f"resume deployment/{name}' and try again")
        history = sorted(((_revision(rs), rs) for rs in _owned_replicasets(ctx, dep)), key=lambda x: x[0])
        history = [(r, rs) for r, rs in history if r > 0]
        if args.revision:
            target = next((rs for r, rs in history if r == args.revision), None)
            if target is None:
                raise CommandError(f"unable to find specified revision {args.revision} in history")
        else:
            if len(history) < 2:
                raise CommandError(f'no rollout history found for deployment "{name}"')
            target = history[-2][1]
        template = dict(target["spec"].get("template") or {})
        meta = dict(template.get("metadata") or {})
        labels = dict(meta.get("labels") or {})
        labels.pop("pod-template-hash", None)
        meta["labels"] = labels
        template["metadata"] = meta
        current = dep["spec"].get("template") or {}
        if _same_template(current, template):
            print(f"{res.kind_qualified}/{name} skipped rollback (current template already matches revision "
                  f"{_revision(target)})")
            continue
        patch = [{"op": "replace", "path": "/spec/template", "value": template},
                 {"op": "test", "path": "/metadata/resourceVersion", "value": dep["metadata"]["resourceVersion"]}]
        try:
            ctx.client.request("PATCH", res.path(ns, name), body=patch, content_type="application/json-patch+json")
        except ApiError as exc:
            ctx.error(server_error(exc))
            continue
        print(f"{res.kind_qualified}/{name} rolled back")
    return 0


def _same_template(a: Obj, b: Obj) -> bool:
    def clean(t: Obj) -> Obj:
        t = json.loads(json.dumps(t))
        (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
        return t
    return clean(a) == clean(b)


# --- restart / pause / resume ----------------------------------------------------------------

def _patch(ctx: Context, res: Resource, ns: str | None, name: str, patch: Obj) -> None:
    ctx.client.request("PATCH", res.path(ns, name), body=patch, content_type="application/strategic-merge-patch+json")


def cmd_rollout_restart(ctx: Context, args: argparse.Namespace) -> int:
    stamp = now_iso()
    for res, ns, name in _items(ctx, args):
        obj = get_object(ctx, res, ns, name)
        if res.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
            raise CommandError("can't restart paused deployment (run rollout resume first)")
        _patch(ctx, res, ns, name, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}})
        print(f"{res.kind_qualified}/{name} restarted")
    return 0


def _pause(ctx: Context, args: argparse.Namespace, paused: bool) -> int:
    for res, ns, name in _items(ctx, args):
        if res.kind != "Deployment":
            raise CommandError(f'{res.qualified} "{name}" {"pausing" if paused else "resuming"} is not supported')
        obj = get_object(ctx, res, ns, name)
        if bool((obj.get("spec") or {}).get("paused")) == paused:
            ctx.error(f'error: {res.qualified} "{name}" is {"already paused" if paused else "not paused"}')
            continue
        _patch(ctx, res, ns, name, {"spec": {"paused": paused if paused else None}})
        print(f"{res.kind_qualified}/{name} {'paused' if paused else 'resumed'}")
    return 0


def cmd_rollout_pause(ctx: Context, args: argparse.Namespace) -> int:
    return _pause(ctx, args, True)


def cmd_rollout_resume(ctx: Context, args: argparse.Namespace) -> int:
    return _pause(ctx, args, False)
