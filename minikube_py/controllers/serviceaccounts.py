"""ServiceAccounts controller: every active namespace has a `default` ServiceAccount, created when the
namespace appears and again whenever someone deletes it, as kube-controller-manager's
serviceaccounts controller keeps it.  Pod admission (apiserver/strategies.py) names that account
in every pod that names none.  A terminating namespace is left alone (the apiserver refuses new
content there anyway).  Tokens and RBAC are not part of this yet.

Keys are namespace names.  Run by the controller manager.
"""

from __future__ import annotations

from typing import Any

from ..api import kinds
from ..api.errors import AlreadyExists, Forbidden
from ..client.tracing import observe, want
from .base import Controller, ControllerContext

Obj = dict[str, Any]
NAMESPACE = kinds.require("v1", "Namespace")
SERVICE_ACCOUNT = kinds.require("v1", "ServiceAccount")
ENSURED = ("default",)  # the accounts every namespace gets


def _terminating(exc: Forbidden) -> bool:
    return any(c.get("reason") == "NamespaceTerminating" for c in (exc.details or {}).get("causes") or [])


class ServiceAccountsController(Controller):
    name = "serviceaccount-controller"
    kind = "Namespace"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.informers.get(NAMESPACE)
        self.accounts = ctx.informers.get(SERVICE_ACCOUNT)
        self.primary = self.namespaces
        self.namespaces.add_handler(self._on_namespace)
        self.accounts.add_handler(self._on_account)

    def _on_namespace(self, kind: str, ns: Obj, old: Obj | None) -> None:
        if kind != "DELETED":
            self.add(str((ns.get("metadata") or {}).get("name") or ""))

    def _on_account(self, kind: str, sa: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            self.add(str((sa.get("metadata") or {}).get("namespace") or ""))

    async def reconcile(self, key: Any) -> float | None:
        ns = self.namespaces.get(str(key))
        if ns is None or (ns.get("status") or {}).get("phase", "Active") != "Active" or \
                (ns.get("metadata") or {}).get("deletionTimestamp"):
            return None
        missing = [name for name in ENSURED if self.accounts.get(f"{key}/{name}") is None]
        observe(accounts=len(ENSURED) - len(missing))
        want(accounts=len(ENSURED))
        for name in missing:
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICE_ACCOUNT, str(key), body)
            except AlreadyExists:
                pass  # the cache is behind
            except Forbidden as exc:
                if not _terminating(exc):
                    raise
        return None
