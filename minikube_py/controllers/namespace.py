"""Namespace controller: deleting a namespace marks it Terminating (the apiserver does that), this
controller deletes everything in it, and when nothing is left removes the `kubernetes` finalizer
through `namespaces/<name>/finalize`, upon which the apiserver removes the namespace.

Conditions on the namespace tell where it stands (NamespaceContentRemaining /
NamespaceFinalizersRemaining with what is left), as Kubernetes reports them.
"""

from __future__ import annotations

from typing import Any

from ..api import kinds
from ..api.errors import ApiError, Conflict, NotFound
from ..api.times import format_time
from .base import Controller, ControllerContext

Obj = dict[str, Any]
NAMESPACE = kinds.require("v1", "Namespace")
_SKIP = {("", "Event"), ("events.k8s.io", "Event")}  # events go last, with the namespace


class NamespaceController(Controller):
    name = "namespace-controller"
    kind = "Namespace"
    workers = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.get(NAMESPACE)
        self.primary = self.namespaces
        self.namespaces.add_handler(self._on_namespace)

    def _on_namespace(self, kind: str, ns: Obj, old: Obj | None) -> None:
        if kind != "DELETED" and (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue(ns)

    async def reconcile(self, key: Any) -> float | None:
        ns = self.namespaces.get(str(key))
        if ns is None or not (ns.get("metadata") or {}).get("deletionTimestamp"):
            return None
        name = ns["metadata"]["name"]
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        namespaced = [i for i in kinds.KINDS if i.namespaced]
        error: ApiError | None = None  # the first failure; the pass goes on with the other kinds
        for info in sorted(namespaced, key=lambda i: (i.group, i.kind) in _SKIP):
            try:
                items = (await self.client.list(info, name)).get("items") or []
            except NotFound:
                continue
            except ApiError as exc:
                error = error or exc
                continue
            if not items:
                continue
            remaining[info.qualified_plural] = len(items)
            for item in items:
                meta = item.get("metadata") or {}
                for f in meta.get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if meta.get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(info, name, meta["name"], propagation="Background")
                except (NotFound, Conflict):
                    pass
                except ApiError as exc:
                    error = error or exc
        if remaining or error is not None:
            if remaining:
                await self._conditions(ns, remaining, finalizers)
            if error is not None:
                raise error  # after the conditions: retried with backoff
            return 1.0  # come back until it is empty (pods wait for their kubelets)
        spec = dict(ns.get("spec") or {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": ns["metadata"], "spec": spec}
        try:
            await self.client.update(NAMESPACE, None, body, subresource="finalize")
        except NotFound:
            pass  # gone already; a Conflict fails the pass and is retried with backoff
        return None

    async def _conditions(self, ns: Obj, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        stamp = format_time(self.clock.now())
        conds = [{"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
                  "message": "Some resources are remaining: " + ", ".join(
                      f"{k} has {v} resource instances" for k, v in sorted(remaining.items())),
                  "lastTransitionTime": stamp}]
        if finalizers:
            conds.append({"type": "NamespaceFinalizersRemaining", "status": "True", "reason": "SomeFinalizersRemain",
                          "message": "Some content in the namespace has finalizers remaining: " + ", ".join(
                              f"{k} in {v} resource instances" for k, v in sorted(finalizers.items())),
                          "lastTransitionTime": stamp})
        old = {c.get("type"): c for c in (ns.get("status") or {}).get("conditions") or []}
        if all(old.get(c["type"], {}).get("message") == c["message"] for c in conds):
            return
        try:
            await self.client.patch(NAMESPACE, None, ns["metadata"]["name"],
                                    {"status": {"phase": "Terminating", "conditions": conds}}, subresource="status")
        except ApiError as exc:
            if not isinstance(exc, NotFound):
                raise
