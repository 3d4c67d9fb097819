"""Service ClusterIP and NodePort allocation, done by the apiserver when a Service is written (as
Kubernetes does it), so `kubectl create service` answers with the address already set.

Each allocated address or port is a key in the store (`/registry/ranges/serviceips/<ip>`,
`/registry/ranges/servicenodeports/<port>`) created with create-if-absent: two apiservers or two
concurrent requests can never hand out the same one, on sqlite or on etcd.  A key holds the owning
service's key, so a leaked allocation (a crash between the two writes) can be recognised and
reclaimed.  The `kubernetes` service owns 10.96.0.1.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from ..api import errors as E
from ..api.ranges import SERVICE_CIDR
from ..store.base import KeyExists, KeyNotFound, Store

Obj = dict[str, Any]
IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
NODE_PORTS = (30000, 32767)


class AllocationError(Exception):
    """A requested address or port that cannot be had; the registry turns it into a 422."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.error = E.FieldError.invalid(field, value, message)


def _invalid(field: str, value: Any, message: str) -> AllocationError:
    return AllocationError(field, value, message)


class ServiceAllocator:
    def __init__(self, store: Store, *, cidr: str = SERVICE_CIDR, node_ports: tuple[int, int] = NODE_PORTS) -> None:
        self.store = store
        self.net = ipaddress.ip_network(cidr)
        self.node_ports = node_ports

    # --- cluster IPs ---------------------------------------------------------------------------

    async def allocate_ip(self, owner: str, wanted: str | None = None) -> str:
        if wanted:
            try:
                ip = ipaddress.ip_address(wanted)
            except ValueError:
                raise _invalid("spec.clusterIPs[0]", wanted, "must be a valid IP address") from None
            if ip not in self.net or ip in (self.net.network_address, self.net.broadcast_address):
                raise _invalid("spec.clusterIPs[0]", wanted,
                               f"provided IP is not in the valid range. The range of valid IPs is {self.net}")
            if not await self._claim(IP_PREFIX + wanted, owner):
                raise _invalid("spec.clusterIPs[0]", wanted, "provided IP is already allocated")
            return wanted
        size = self.net.num_addresses - 2
        start = random.randrange(size)
        reserved = str(self.net.network_address + 1)  # 10.96.0.1 is the kubernetes service's
        for i in range(size):
            candidate = str(self.net.network_address + 1 + (start + i) % size)
            if candidate == reserved and owner != "services/default/kubernetes":
                continue
            if await self._claim(IP_PREFIX + candidate, owner):
                return candidate
        raise E.InternalError("Internal error occurred: failed to allocate a serviceIP: range is full")

    async def release_ip(self, ip: str | None, owner: str) -> None:
        if ip and ip != "None":
            await self._release(IP_PREFIX + ip, owner)

    # --- node ports ----------------------------------------------------------------------------

    async def allocate_port(self, owner: str, wanted: int | None = None, field: str = "spec.ports[0].nodePort") -> int:
        low, high = self.node_ports
        if wanted:
            if not low <= wanted <= high:
                raise _invalid(field, wanted, f"provided port is not in the valid range. The range of valid ports "
                                              f"is {low}-{high}")
            if not await self._claim(PORT_PREFIX + str(wanted), owner):
                raise _invalid(field, wanted, "provided port is already allocated")
            return wanted
        size = high - low + 1
        start = random.randrange(size)
        for i in range(size):
            port = low + (start + i) % size
            if await self._claim(PORT_PREFIX + str(port), owner):
                return port
        raise E.InternalError("Internal error occurred: failed to allocate a nodePort: range is full")

    async def release_port(self, port: int | None, owner: str) -> None:
        if port:
            await self._release(PORT_PREFIX + str(port), owner)

    # --- the store -----------------------------------------------------------------------------

    async def _claim(self, key: str, owner: str) -> bool:
        try:
            await self.store.create(key, owner.encode())
            return True
        except KeyExists:
            kv = await self.store.get(key)
            return kv is not None and kv.value.decode() == owner  # ours already (a retried write)

    async def _release(self, key: str, owner: str) -> None:
        kv = await self.store.get(key)
        if kv is None or kv.value.decode() != owner:
            return
        try:
            await self.store.delete(key, expected_revision=kv.mod_revision)
        except KeyNotFound:
            pass

    # --- whole services ------------------------------------------------------------------------

    @staticmethod
    def owner(namespace: str | None, name: str) -> str:
        return f"services/{namespace}/{name}"

    async def on_create(self, svc: Obj) -> list[tuple[str, Any]]:
        """Fill spec.clusterIP(s) and nodePorts of a new service; returns what was allocated."""
        meta, spec = svc["metadata"], svc.setdefault("spec", {})
        owner = self.owner(meta.get("namespace"), meta["name"])
        done: list[tuple[str, Any]] = []
        try:
            svc_type = spec.get("type") or "ClusterIP"
            if svc_type != "ExternalName" and spec.get("clusterIP") != "None":
                ip = await self.allocate_ip(owner, spec.get("clusterIP") or None)
                done.append(("ip", ip))
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            elif spec.get("clusterIP") == "None":
                spec["clusterIPs"] = ["None"]
            if svc_type in ("NodePort", "LoadBalancer"):
                for i, port in enumerate(spec.get("ports") or []):
                    n = await self.allocate_port(owner, port.get("nodePort") or None, f"spec.ports[{i}].nodePort")
                    done.append(("port", n))
                    port["nodePort"] = n
        except Exception:
            await self.rollback(owner, done)
            raise
        return done

    async def rollback(self, owner: str, done: list[tuple[str, Any]]) -> None:
        for kind, value in done:
            if kind == "ip":
                await self.release_ip(value, owner)
            else:
                await self.release_port(value, owner)

    async def on_update(self, old: Obj, new: Obj) -> list[tuple[str, Any]]:
        """Ports added to or removed from a NodePort/LoadBalancer service, or a type change."""
        meta = new["metadata"]
        owner = self.owner(meta.get("namespace"), meta["name"])
        ospec, nspec = old.get("spec") or {}, new.setdefault("spec", {})
        done: list[tuple[str, Any]] = []
        try:
            if (ospec.get("type") == "ExternalName" or not ospec.get("clusterIP")) and \
                    nspec.get("type") != "ExternalName" and nspec.get("clusterIP") != "None" and \
                    not nspec.get("clusterIP"):
                ip = await self.allocate_ip(owner)
                done.append(("ip", ip))
                nspec["clusterIP"], nspec["clusterIPs"] = ip, [ip]
            if nspec.get("type") in ("NodePort", "LoadBalancer"):
                for i, port in enumerate(nspec.get("ports") or []):
                    held = {p.get("nodePort") for p in ospec.get("ports") or []}
                    if port.get("nodePort") and port["nodePort"] in held:
                        continue
                    n = await self.allocate_port(owner, port.get("nodePort") or None, f"spec.ports[{i}].nodePort")
                    done.append(("port", n))
                    port["nodePort"] = n
            else:
                for port in nspec.get("ports") or []:
                    port.pop("nodePort", None)
        except Exception:
            await self.rollback(owner, done)
            raise
        return done

    async def after_update(self, old: Obj, new: Obj) -> None:
        meta = new["metadata"]
        owner = self.owner(meta.get("namespace"), meta["name"])
        kept = {p.get("nodePort") for p in (new.get("spec") or {}).get("ports") or []}
        for port in (old.get("spec") or {}).get("ports") or []:
            if port.get("nodePort") and port["nodePort"] not in kept:
                await self.release_port(port["nodePort"], owner)
        if (old.get("spec") or {}).get("clusterIP") and (new.get("spec") or {}).get("type") == "ExternalName":
            await self.release_ip(old["spec"]["clusterIP"], owner)

    async def on_delete(self, svc: Obj) -> None:
        meta, spec = svc["metadata"], svc.get("spec") or {}
        owner = self.owner(meta.get("namespace"), meta["name"])
        await self.release_ip(spec.get("clusterIP"), owner)
        for port in spec.get("ports") or []:
            await self.release_port(port.get("nodePort"), owner)
