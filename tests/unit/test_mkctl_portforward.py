"""mkctl port-forward's port specifications (minikube_py/cli/kubectl_portforward.py), as kubectl reads them."""

from __future__ import annotations

import pytest

from minikube_py.cli.kubectl_portforward import PortSpec, parse_ports
from minikube_py.cli.mkctl import CommandError


def test_port_specs_as_kubectl_reads_them() -> None:
    assert parse_ports(["8080:80", "81", ":82"]) == [PortSpec(8080, 80), PortSpec(81, 81), PortSpec(0, 82)]


@pytest.mark.parametrize("spec", ["a:80", "80:b", "0", "70000", "8080:0", "8080:70000", ""])
def test_bad_port_specs_are_refused(spec: str) -> None:
    with pytest.raises(CommandError, match="invalid port specification"):
        parse_ports([spec])
