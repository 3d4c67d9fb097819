"""What one scheduling attempt saw, node by node, for the reconcile trace (`mkctl trace`): each
rejected node with the filter plugin that said no and its reason, and the scores of the feasible
nodes it compared.

Capped so that a trace stays readable on a 1,000-node cluster: per reason, the count and the
first `per_reason` node names; of the scores, the best `top` (highest first, the tie-break of
find_node: fewer pods, then the name, is not repeated here).  Only built while somebody watches
the traces: scheduler.find_node takes one only in a traced pass.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any


class Verdicts:
    def __init__(self, *, top: int = 10, per_reason: int = 10) -> None:
        self.top = top
        self.per_reason = per_reason
        self.checked = 0
        self.feasible = 0
        self._rejected: dict[str, dict[str, Any]] = {}  # reason -> {plugin, count, nodes}
        self._scores: list[tuple[int, str]] = []  # a min-heap of the best `top` (score, name)

    def rejected(self, node: str, plugin: str, reasons: Sequence[str]) -> None:
        for reason in reasons:
            entry = self._rejected.setdefault(reason, {"plugin": plugin, "count": 0, "nodes": []})
            entry["count"] += 1
            if len(entry["nodes"]) < self.per_reason:
                entry["nodes"].append(node)

    def scored(self, node: str, score: int) -> None:
        item = (score, node)
        if len(self._scores) < self.top:
            heapq.heappush(self._scores, item)
        elif item > self._scores[0]:
            heapq.heapreplace(self._scores, item)

    def summary(self) -> dict[str, Any]:
        """The trace's `filtered` (by reason, most rejections first) and `scores` (best first)."""
        filtered = [{"reason": reason, **entry} for reason, entry in
                    sorted(self._rejected.items(), key=lambda kv: (-kv[1]["count"], kv[0]))]
        scores = [{"node": name, "score": score} for score, name in sorted(self._scores, key=lambda t: (-t[0], t[1]))]
        return {"filtered": filtered, "scores": scores}
