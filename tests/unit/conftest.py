"""Unit tests of the control loops: every controller pass is checked to leave the informer caches
as it found them (tests/unit/harness.py)."""

from __future__ import annotations

import pytest

from tests.unit.harness import install_cache_guard


@pytest.fixture(autouse=True)
def _caches_are_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    install_cache_guard(monkeypatch)
