"""Lifecycle hook handlers without Docker: exec through a fake docker exec, httpGet on loopback, the
sleep handler on a fake clock, a hook that outlives its limit, and kube's failure messages."""

from __future__ import annotations

import asyncio

from agents.kubelet.hooks import run_hook
from tests.unit.fake_clock import ManualClock

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}
CONTAINER = {"name": "main"}


async def exec_in(cid: str, command: list[str]) -> tuple[int, str]:
    if command[-1] == "hang":
        await asyncio.sleep(10)
    return (0, "") if command[-1] == "ok" else (3, "boom")


async def test_exec_hooks_succeed_or_say_why_as_the_kubelet():
    assert await run_hook({"exec": {"command": ["sh", "-c", "ok"]}}, POD, CONTAINER, "c1", "", exec_in, 5) == ""
    failed = await run_hook({"exec": {"command": ["sh", "-c", "no"]}}, POD, CONTAINER, "c1", "", exec_in, 5)
    assert failed == ('Exec lifecycle hook ([sh -c no]) for Container "main" in Pod "web_default(u1)" failed - '
                      "error: command 'sh -c no' exited with 3: boom, message: \"boom\"")
    late = await run_hook({"exec": {"command": ["hang"]}}, POD, CONTAINER, "c1", "", exec_in, 0.2)
    assert late == 'lifecycle hook for Container "main" in Pod "web_default(u1)" did not finish within 0.2s'
    assert "has no handler" in await run_hook({}, POD, CONTAINER, "c1", "", exec_in, 1)


async def test_http_hook_and_sleep_hook():
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        failed = await run_hook({"httpGet": {"path": "/drain", "port": port}}, POD, CONTAINER, "c1", "127.0.0.1",
                                exec_in, 2)
    finally:
        server.close()
        await server.wait_closed()
    assert failed == ('HTTP lifecycle hook (/drain) for Container "main" in Pod "web_default(u1)" failed - '
                      "error: HTTP probe failed with statuscode: 503")
    clock = ManualClock()
    task = asyncio.create_task(run_hook({"sleep": {"seconds": 5}}, POD, CONTAINER, "c1", "", exec_in, 30,
                                        clock.sleep))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done() and clock.pending() == [5.0]
    await clock.advance(5)
    assert await task == "" and clock.sleeps == [5.0]
