"""The prober's pure parts and its task loop with a fake clock and a fake handler: Kubernetes'
defaults, initial results, thresholds, initialDelaySeconds, startup gating, on-hold after a
liveness failure, tasks that stop with their container, and the handlers' messages on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agents.kubelet.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    Prober,
    ProbeSpec,
    ProbeState,
    ProbeTarget,
    handler_runner,
    http_probe,
    tcp_probe,
)
from tests.unit.fake_clock import ManualClock


def test_defaults_are_kubernetes():
    spec = ProbeSpec.of(LIVENESS, {"exec": {"command": ["true"]}, "successThreshold": 5})
    assert (spec.initial_delay, spec.period, spec.timeout, spec.success_threshold, spec.failure_threshold) == \
        (0.0, 10.0, 1.0, 1, 3)
    ready = ProbeSpec.of(READINESS, {"periodSeconds": 2, "successThreshold": 2, "initialDelaySeconds": 5})
    assert (ready.period, ready.success_threshold, ready.initial_delay) == (2.0, 2, 5.0)


def test_initial_results_and_thresholds():
    assert ProbeState(ProbeSpec.of(READINESS, {})).result is False
    assert ProbeState(ProbeSpec.of(LIVENESS, {})).result is True
    assert ProbeState(ProbeSpec.of(STARTUP, {})).result is None
    live = ProbeState(ProbeSpec.of(LIVENESS, {}))
    assert [live.observe(False), live.observe(False), live.observe(True), live.observe(False),
            live.observe(False)] == [False, False, False, False, False]
    assert live.result is True  # never three failures in a row
    assert live.observe(False) is True and live.result is False and live.on_hold
    ready = ProbeState(ProbeSpec.of(READINESS, {"successThreshold": 2, "failureThreshold": 1}))
    assert (ready.observe(True), ready.observe(True)) == (False, True) and ready.result is True
    assert ready.observe(False) is True and ready.result is False and not ready.on_hold


def test_initial_delay():
    state = ProbeState(ProbeSpec.of(LIVENESS, {"initialDelaySeconds": 5}))
    assert not state.due(4.9) and state.due(5.0)


class FakeHandlers:
    def __init__(self) -> None:
        self.answers: dict[str, bool] = {}
        self.calls: list[tuple[str, str]] = []

    async def run(self, probe: ProbeSpec, target: ProbeTarget) -> tuple[bool, str]:
        self.calls.append((target.container_id, probe.kind))
        return self.answers.get(probe.kind, True), "HTTP probe failed with statuscode: 500"


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_prober_tasks_liveness_on_hold_and_stop_with_their_container():
    clock = ManualClock()
    handlers = FakeHandlers()
    changes: list[str] = []
    events: list[tuple[str, str, str, str]] = []
    prober = Prober(handlers.run, changes.append, lambda *e: events.append(e), clock=clock)
    container = {"name": "web", "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": 1, "failureThreshold": 2},
                 "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 1}}
    prober.track("u1", "default/p", [(container, "c1", clock.now())], "10.244.0.5")
    assert prober.results.ready("c1", container) is False  # before the first readiness probe
    await _settle()
    assert prober.results.ready("c1", container) is True and changes == ["default/p"]
    handlers.answers[LIVENESS] = False
    await clock.advance(1)
    await _settle()
    assert prober.results.failed("c1") == ""  # one failure of two
    await clock.advance(1)
    await _settle()
    assert prober.results.failed("c1") == LIVENESS and changes == ["default/p", "default/p"]
    assert events[-1] == ("default/p", "Warning", "Unhealthy",
                          "Liveness probe failed: HTTP probe failed with statuscode: 500")
    live_calls = len([c for c in handlers.calls if c[1] == LIVENESS])
    await clock.advance(3)
    await _settle()
    assert len([c for c in handlers.calls if c[1] == LIVENESS]) == live_calls  # on hold
    prober.track("u1", "default/p", [(container, "c2", clock.now())], "10.244.0.5")  # restarted
    await _settle()
    assert prober.results.failed("c1") == "" and prober.results.get("c1", READINESS) is None
    assert ("c2", READINESS) in handlers.calls
    prober.track("u2", "default/q", [(container, "d1", clock.now())], "10.244.0.6")
    await _settle()
    prober.forget_pod("u2")  # pod q left the node: its probes end
    assert not [k for k in prober._tasks if k[0] == "d1"]
    calls = len(handlers.calls)
    prober.track("u1", "default/p", [], "")  # the container stopped: its probes stop
    await clock.advance(5)
    await _settle()
    assert handlers.calls[calls:] == [] and not prober._tasks
    prober.close()


async def test_startup_probe_gates_the_others_then_stops():
    clock = ManualClock()
    handlers = FakeHandlers()
    handlers.answers[STARTUP] = False
    prober = Prober(handlers.run, lambda key: None, lambda *e: None, clock=clock)
    container = {"name": "app", "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1,
                                                 "failureThreshold": 10},
                 "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}
    prober.track("u1", "default/p", [(container, "c1", clock.now())], "")
    for _ in range(3):
        await _settle()
        await clock.advance(1)
    assert {k for _, k in handlers.calls} == {STARTUP}
    assert not prober.results.started("c1", container) and not prober.results.ready("c1", container)
    handlers.answers[STARTUP] = True
    await clock.advance(1)
    await _settle()
    await clock.advance(1)
    await _settle()
    assert prober.results.started("c1", container) and prober.results.ready("c1", container)
    startups = len([c for c in handlers.calls if c[1] == STARTUP])
    await clock.advance(3)
    await _settle()
    assert len([c for c in handlers.calls if c[1] == STARTUP]) == startups  # done once started
    prober.close()


async def test_tcp_and_http_handlers_on_loopback():
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        status = "200 OK" if request.startswith("GET /ok ") and "X-Probe: yes" in request else "500 Oops"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await tcp_probe("127.0.0.1", port, 1.0) == (True, "")
        container: dict[str, Any] = {"ports": [{"name": "http", "containerPort": port}]}
        get = {"path": "ok", "port": "http", "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}
        assert await http_probe(get, container, "127.0.0.1", 1.0) == (True, "")
        assert await http_probe({"path": "/bad", "port": port}, {}, "127.0.0.1", 1.0) == \
            (False, "HTTP probe failed with statuscode: 500")
    finally:
        server.close()
        await server.wait_closed()
    ok, message = await tcp_probe("127.0.0.1", port, 1.0)
    assert not ok and message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    ok, message = await http_probe({"path": "/", "port": port}, {}, "127.0.0.1", 1.0)
    assert not ok and message == f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'


async def test_exec_handler_reports_output_or_exit_code():
    async def exec_in(cid: str, command: list[str]) -> tuple[int, str]:
        return (0, "") if command == ["true"] else (1, "") if command == ["false"] else (2, "no such file\n")

    run = handler_runner(exec_in)
    target = ProbeTarget("default/p", {}, "c1", "")

    def spec(cmd: list[str]) -> ProbeSpec:
        return ProbeSpec.of(LIVENESS, {"exec": {"command": cmd}})

    assert await run(spec(["true"]), target) == (True, "")
    assert await run(spec(["false"]), target) == (False, "command ['false'] exited with 1")
    assert await run(spec(["cat", "x"]), target) == (False, "no such file")
    assert await run(ProbeSpec.of(LIVENESS, {}), target) == (False, "the probe has no handler (exec, httpGet, tcpSocket)")


def test_a_port_name_the_container_lacks_is_an_error():
    from agents.kubelet.probes import _port

    assert _port({"ports": [{"name": "web", "containerPort": 8080}]}, "web") == 8080
    with pytest.raises(ValueError, match="not a number nor the name"):
        _port({}, "web")
