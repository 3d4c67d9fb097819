"""The SPDY/3 framer and session (minikube_py/apiserver/spdy.py): the dictionary, round trips of
every frame type, fragmented input, one compression context per direction, and the session's
answers (SYN_REPLY, PING echo, FIN, RST, GOAWAY)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from minikube_py.api import errors as E
from minikube_py.apiserver import spdy


def test_the_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2  # the dictionary id in every SPDY/3 header block
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


FRAMES: list[spdy.Frame] = [
    spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}),
    spdy.SynStream(3, {"streamtype": ["data"], "multi": ["a", "b"]}, associated_to=1, priority=7, fin=True,
                   unidirectional=True),
    spdy.SynReply(1),
    spdy.SynReply(3, {"x": ["y"]}, fin=True),
    spdy.DataFrame(1, b"hello"),
    spdy.DataFrame(3, b"", fin=True),
    spdy.DataFrame(5, bytes(range(256)) * 300),
    spdy.RstStream(3, spdy.RstStatus.CANCEL),
    spdy.Settings([(0, 4, 100), (1, 7, 65536)], clear=True),
    spdy.Ping(7),
    spdy.GoAway(9, 0),
    spdy.HeadersFrame(1, {"a": ["b"]}, fin=True),
    spdy.WindowUpdate(1, 65536),
]


def test_every_frame_round_trips_through_one_context_per_direction() -> None:
    sender, receiver = spdy.Framer(), spdy.Framer()
    wire = b"".join(sender.encode(f) for f in FRAMES)
    assert receiver.feed(wire) == FRAMES


def test_fragmented_input_gives_the_same_frames() -> None:
    sender, receiver = spdy.Framer(), spdy.Framer()
    wire = b"".join(sender.encode(f) for f in FRAMES)
    got: list[spdy.Frame] = []
    for i in range(0, len(wire), 7):  # 7-byte pieces split every header, length and block
        got += receiver.feed(wire[i:i + 7])
    assert got == FRAMES


def test_header_blocks_share_the_compression_context() -> None:
    """The second block with the same headers is much smaller: it refers back into the first."""
    sender = spdy.Framer()
    headers = {"streamtype": ["stdout"], "port": ["8080"], "requestid": ["12"]}
    first = sender.encode(spdy.SynStream(1, headers))
    second = sender.encode(spdy.SynStream(3, headers))
    assert len(second) < len(first)
    fresh = spdy.Framer()  # a receiver that missed the first block cannot read the second
    with pytest.raises(spdy.ProtocolError):
        fresh.feed(second)


def test_header_names_are_lowercased_and_values_split_at_nul() -> None:
    sender, receiver = spdy.Framer(), spdy.Framer()
    (frame,) = receiver.feed(sender.encode(spdy.SynStream(1, {"StreamType": ["error"], "v": ["1", "2"]})))
    assert isinstance(frame, spdy.SynStream)
    assert frame.headers == {"streamtype": ["error"], "v": ["1", "2"]}
    assert spdy.header(frame.headers, "streamType") == "error"


def test_wire_format_of_a_data_frame_and_a_ping() -> None:
    framer = spdy.Framer()
    assert framer.encode(spdy.DataFrame(3, b"ab", fin=True)) == b"\x00\x00\x00\x03\x01\x00\x00\x02ab"
    assert framer.encode(spdy.Ping(1)) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"


def test_other_versions_and_garbage_are_protocol_errors() -> None:
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.Framer().feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(b"\x80\x03\x00\x01\x00\x00\x00\x0e" + struct.pack(">IIH", 1, 0, 0) + b"nozl")


def test_unknown_control_frames_are_ignored() -> None:
    (frame,) = spdy.Framer().feed(b"\x80\x03\x00\x0a\x00\x00\x00\x00")
    assert frame == spdy.UnknownFrame(10)


async def test_session_replies_echoes_pings_and_relays_data() -> None:
    client = spdy.Framer()
    out: list[bytes] = []

    async def sender(raw: bytes) -> None:
        out.append(raw)

    session = spdy.Session(sender)
    session.feed(client.encode(spdy.SynStream(1, {"streamtype": ["data"]})) + client.encode(spdy.Ping(1))
                 + client.encode(spdy.DataFrame(1, b"up")))
    stream = await session.accept()
    assert stream is not None and stream.header("streamType") == "data"
    assert await stream.read() == b"up"
    await stream.write(b"down")
    stream.close()
    session.feed(client.encode(spdy.Ping(2)))  # an even id would be ours: not echoed
    session.feed(client.encode(spdy.DataFrame(1, b"", fin=True)))
    assert await stream.read() == b""
    await session.close()
    got = client.feed(b"".join(out))
    assert got == [spdy.SynReply(1), spdy.Ping(1), spdy.DataFrame(1, b"down"), spdy.DataFrame(1, b"", fin=True),
                   spdy.GoAway(1)]
    assert session.streams == {}  # both sides closed: forgotten


async def test_session_rejects_even_or_reused_stream_ids_and_resets() -> None:
    client = spdy.Framer()
    out: list[bytes] = []

    async def sender(raw: bytes) -> None:
        out.append(raw)

    session = spdy.Session(sender)
    session.feed(client.encode(spdy.SynStream(3, {})) + client.encode(spdy.SynStream(2, {}))
                 + client.encode(spdy.SynStream(1, {})))
    stream = await session.accept()
    assert stream is not None and stream.id == 3
    session.feed(client.encode(spdy.RstStream(3, spdy.RstStatus.CANCEL)))
    assert await stream.read() == b"" and stream.reset
    session.feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")  # SPDY/2: not ours
    assert session.closed.is_set() and await session.accept() is None
    await session.close()
    frames = client.feed(b"".join(out))
    assert frames[:3] == [spdy.SynReply(3), spdy.RstStream(2, spdy.RstStatus.PROTOCOL_ERROR),
                          spdy.RstStream(1, spdy.RstStatus.PROTOCOL_ERROR)]
    assert isinstance(frames[3], spdy.GoAway) and frames[3].status == 1


async def test_a_full_reader_pauses_the_connection_until_drained() -> None:
    client = spdy.Framer()
    calls: list[str] = []

    async def sender(raw: bytes) -> None:
        pass

    session = spdy.Session(sender, pause=lambda: calls.append("pause"), resume=lambda: calls.append("resume"))
    session.feed(client.encode(spdy.SynStream(1, {})))
    stream = await session.accept()
    assert stream is not None
    chunk = b"x" * 65536
    for _ in range(20):
        session.feed(client.encode(spdy.DataFrame(1, chunk)))
    assert calls == ["pause"]
    for _ in range(20):
        assert await stream.read() == chunk
    assert calls == ["pause", "resume"]
    await asyncio.wait_for(session.room(), 1)
    await session.close()


def test_protocol_negotiation_takes_the_clients_first_that_we_speak() -> None:
    supported = ("v4.channel.k8s.io", "v3.channel.k8s.io")
    assert spdy.negotiate(["v5.channel.k8s.io", "v3.channel.k8s.io", "v4.channel.k8s.io"], supported) == \
        "v3.channel.k8s.io"
    assert spdy.negotiate([], supported) == ""  # the oldest clients name none
    with pytest.raises(E.Forbidden, match="unable to negotiate protocol"):
        spdy.negotiate(["v9.channel.k8s.io"], supported)


def test_the_error_stream_carries_json_for_v4_and_text_for_older_protocols() -> None:
    from minikube_py.apiserver.portforward import EXEC_V2, EXEC_V4, _error_payload

    failure = b'{"status":"Failure","message":"command terminated with non-zero exit code: 3","reason":"NonZeroExitCode"}'
    assert _error_payload(failure, EXEC_V4) == failure
    assert _error_payload(failure, EXEC_V2) == b"command terminated with non-zero exit code: 3"
    assert _error_payload(b'{"status":"Success"}', EXEC_V2) == b""
    assert _error_payload(b"", EXEC_V4) == b""
