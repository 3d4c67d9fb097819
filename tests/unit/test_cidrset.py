"""The podCIDR set of the node-lifecycle controller: one /24 per node name, never two holders,
released on deletion, handed out round-robin."""

from __future__ import annotations

import pytest

from minikube_py.controllers.cidrset import CidrSet


def test_each_node_gets_a_distinct_slash_24_and_keeps_it() -> None:
    s = CidrSet("10.244.0.0/16")
    got = [s.allocate(f"n{i}") for i in range(300)]
    assert len({c for c in got if c}) == 256  # a /16 holds 256 /24s
    assert got[:3] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert got[255] == "10.244.255.0/24" and got[256:] == [None] * 44
    assert s.allocate("n1") == "10.244.1.0/24"  # asked again: the same one, not a second
    assert len(s) == 256


def test_occupied_cidrs_are_skipped_and_a_second_holder_is_refused() -> None:
    s = CidrSet("10.244.0.0/16")
    assert s.occupy("a", "10.244.0.0/24") and s.occupy("b", "10.244.1.0/24")
    assert s.allocate("c") == "10.244.2.0/24"
    assert not s.occupy("d", "10.244.1.0/24")
    assert s.holder_of("10.244.1.0/24") == "b"
    assert s.occupy("b", "10.244.1.0/24")  # seen again on the same node: fine
    assert not s.occupy("e", "192.168.0.0/24") and s.holder_of("192.168.0.0/24") is None  # not ours to track
    assert not s.occupy("e", "10.244.7.0/25")


def test_a_podcidr_seen_on_the_node_replaces_its_reservation() -> None:
    s = CidrSet("10.244.0.0/16")
    assert s.allocate("a") == "10.244.0.0/24"
    assert s.occupy("a", "10.244.9.0/24")
    assert s.held_by("a") == "10.244.9.0/24" and s.holder_of("10.244.0.0/24") is None


def test_a_released_cidr_is_handed_out_again_last() -> None:
    s = CidrSet("10.244.0.0/22")  # four /24s
    for name in "abc":
        s.allocate(name)
    assert s.release("a") == "10.244.0.0/24"
    assert s.release("a") is None
    assert s.allocate("d") == "10.244.3.0/24"  # the never-used one first
    assert s.allocate("e") == "10.244.0.0/24"  # then the released one
    assert s.allocate("f") is None


def test_a_node_cidr_larger_than_the_cluster_cidr_is_refused() -> None:
    with pytest.raises(ValueError):
        CidrSet("10.244.0.0/25")
