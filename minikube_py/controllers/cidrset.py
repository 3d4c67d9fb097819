"""Which /24 of the cluster CIDR each Node holds: the node-lifecycle controller's podCIDR allocator.

Why in memory, and why that is safe (kube-controller-manager's nodeipam range allocator works the
same way): only the controller manager assigns podCIDRs, and one controller manager runs per
cluster.  The set is rebuilt from the Nodes' `spec.podCIDR` in the synced informer cache before the
first worker runs (the controller's on_start), kept by each node's pass (which occupies what the
node shows, and releases what a node gone from the cache held), so a restarted master starts from
what the store holds.  A CIDR is taken in the set, synchronously and before any write, by the pass that
assigns it, and stays held by that node's name until the Node is deleted: two workers (or two
passes over one node whose patch is still in flight, or whose outcome was lost) can never be handed
the same one, unlike a choice made from the cache alone, which lags the patches just sent.  The
patch that writes it pins the resourceVersion the pass read, so a CIDR is only ever written to a
node that had none.  Candidates are scanned round-robin from the last one handed out, so a CIDR
released by a deleted node is handed out again as late as possible.

Used by controllers/nodelifecycle.py; pure, unit-tested in tests/unit/test_cidrset.py.
"""

from __future__ import annotations

import ipaddress


class CidrSet:
    def __init__(self, cluster_cidr: str, prefix: int = 24) -> None:
        self.net = ipaddress.ip_network(cluster_cidr)
        if prefix < self.net.prefixlen:
            raise ValueError(f"node CIDR /{prefix} is larger than the cluster CIDR {self.net}")
        self.prefix = prefix
        self.size = 2 ** (prefix - self.net.prefixlen)
        self._step = 2 ** (self.net.max_prefixlen - prefix)
        self._holder: dict[int, str] = {}  # subnet index -> node name
        self._held: dict[str, int] = {}  # node name -> subnet index
        self._next = 0

    def _subnet(self, index: int) -> str:
        return f"{self.net.network_address + index * self._step}/{self.prefix}"

    def _index(self, cidr: str) -> int | None:
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            return None
        if net.prefixlen != self.prefix or not net.subnet_of(self.net):  # type: ignore[arg-type]
            return None
        return (int(net.network_address) - int(self.net.network_address)) // self._step

    def held_by(self, node: str) -> str | None:
        index = self._held.get(node)
        return None if index is None else self._subnet(index)

    def holder_of(self, cidr: str) -> str | None:
        index = self._index(cidr)
        return None if index is None else self._holder.get(index)

    def occupy(self, node: str, cidr: str) -> bool:
        """Record that `node` holds `cidr` (seen on the Node); False when another node holds it, or
        it is not one of the cluster CIDR's subnets (nothing to track)."""
        index = self._index(cidr)
        if index is None:
            return False
        holder = self._holder.get(index)
        if holder is not None and holder != node:
            return False
        previous = self._held.get(node)
        if previous is not None and previous != index:
            del self._holder[previous]  # a reservation the node's own podCIDR replaced
        self._holder[index] = node
        self._held[node] = index
        return True

    def allocate(self, node: str) -> str | None:
        """The CIDR `node` holds, or the next free one (now held by it); None when all are taken."""
        held = self.held_by(node)
        if held is not None:
            return held
        for i in range(self.size):
            index = (self._next + i) % self.size
            if index not in self._holder:
                self._holder[index] = node
                self._held[node] = index
                self._next = (index + 1) % self.size
                return self._subnet(index)
        return None

    def release(self, node: str) -> str | None:
        """Free what `node` holds (its Node was deleted); the CIDR freed, if any."""
        index = self._held.pop(node, None)
        if index is None:
            return None
        del self._holder[index]
        return self._subnet(index)

    def __len__(self) -> int:
        return len(self._held)
