"""Pure parts of logs/exec/attach: the channel protocol (v5, v4, base64, channel.k8s.io), the kubelet's
log lines (timestamps, sinceTime), Docker's multiplexed stream, and the apiserver's validation of
PodLogOptions / PodExecOptions and of the container name."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct

import pytest
from multidict import MultiDict

from agents.kubelet.containerlogs import format_line, kubelet_stamp, parse_rfc3339, split_docker_stamp
from agents.kubelet.streaming import demux
from minikube_py.api import channels
from minikube_py.api import errors as E
from minikube_py.apiserver.streaming import exec_query, log_query, pick_container


def test_v5_and_v4_frames_are_a_channel_byte_and_data() -> None:
    assert channels.decode(b"\x01hello", channels.V5) == channels.Frame(1, b"hello")
    assert channels.encode(channels.Frame(2, b"err"), channels.V4) == b"\x02err"
    with pytest.raises(channels.FrameError):
        channels.decode(b"", channels.V5)


def test_base64_frames_are_text_with_a_channel_digit() -> None:
    assert channels.encode(channels.Frame(1, b"hi"), channels.V4_BASE64) == "1" + base64.b64encode(b"hi").decode()
    assert channels.decode("0" + base64.b64encode(b"ls\n").decode(), channels.BASE64) == channels.Frame(0, b"ls\n")
    with pytest.raises(channels.FrameError):
        channels.decode("x!!", channels.V4_BASE64)


def test_translation_drops_what_the_target_protocol_cannot_say() -> None:
    close = bytes([channels.CLOSE, channels.STDIN])
    assert channels.translate(close, channels.V5, channels.V4) is None
    assert channels.translate(close, channels.V5, channels.V5) == close
    status = json.dumps(channels.exit_status(3)).encode()
    assert channels.translate(b"\x03" + status, channels.V4, channels.V1) == \
        b"\x03command terminated with non-zero exit code: 3"
    assert channels.translate(b"\x03" + json.dumps(channels.success_status()).encode(), channels.V4,
                              channels.V1) is None
    assert channels.translate(b"\x04" + channels.resize_payload(80, 24), channels.V4, channels.V1) is None
    assert channels.translate(b"\x01out", channels.V4, channels.V4_BASE64) == "1" + base64.b64encode(b"out").decode()


def test_the_exit_code_travels_in_the_error_channel_status() -> None:
    failed = channels.exit_status(7)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
    assert channels.exit_code(failed) == 7
    assert channels.exit_code(channels.success_status()) == 0
    assert channels.exit_code(channels.failure_status("broken pipe")) is None
    assert channels.parse_resize(channels.resize_payload(101, 33)) == (101, 33)
    assert channels.parse_resize(b"{}") is None


def test_docker_timestamps_become_the_kubelets_nine_digit_form() -> None:
    when, nanos, rest = split_docker_stamp(b"2026-12-01T21:00:00.1234Z hello\n")
    assert (when, nanos, rest) == (dt.datetime(2026, 12, 1, 21, 0, tzinfo=dt.UTC), 123400000, b"hello\n")
    assert kubelet_stamp(when, nanos) == b"2026-12-01T21:00:00.123400000Z"
    assert format_line(b"2026-12-01T21:00:00Z x\n", True, None) == b"2026-12-01T21:00:00.000000000Z x\n"
    assert format_line(b"2026-12-01T21:00:00.5Z x\n", False, None) == b"x\n"
    since = parse_rfc3339("2026-12-01T21:00:01Z")
    assert since is not None
    assert format_line(b"2026-12-01T21:00:00.999999999Z old\n", False, since) is None
    assert format_line(b"2026-12-01T21:00:01.000000001Z new\n", False, since) == b"new\n"
    assert parse_rfc3339("2026-12-01T23:00:00+02:00") == parse_rfc3339("2026-12-01T21:00:00Z")
    assert parse_rfc3339("yesterday") is None


def test_dockers_multiplexed_stream_is_split_into_frames_and_keeps_a_partial_one() -> None:
    def frame(stream: int, data: bytes) -> bytes:
        return struct.pack(">BxxxI", stream, len(data)) + data

    buffer = bytearray(frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"par")[:-1])
    assert demux(buffer) == [(1, b"out\n"), (2, b"err\n")]
    assert len(buffer) == 8 + 2
    buffer += b"r"
    assert demux(buffer) == [(1, b"par")] and not buffer


POD = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                             "initContainers": [{"name": "init"}]}}


def test_the_container_is_named_or_the_only_one() -> None:
    with pytest.raises(E.BadRequest, match=r"a container name must be specified for pod web, choose one of: "
                                           r"\[a b\] or one of the init containers: \[init\]"):
        pick_container(POD, "")
    with pytest.raises(E.BadRequest, match="container x is not valid for pod web"):
        pick_container(POD, "x")
    assert pick_container(POD, "init") == "init"
    assert pick_container({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "only"}]}}, "") == "only"


def test_log_options_are_validated_as_kube_does() -> None:
    q = MultiDict(follow="true", tailLines="5", timestamps="1", previous="false", sinceSeconds="10")
    assert log_query(q, "web") == [("follow", "true"), ("timestamps", "true"), ("tailLines", "5"),
                                   ("sinceSeconds", "10")]
    with pytest.raises(E.Invalid, match="tailLines: Invalid value: -1: must be greater than or equal to 0"):
        log_query(MultiDict(tailLines="-1"), "web")
    with pytest.raises(E.Invalid, match="at most one of `sinceTime` or `sinceSeconds`"):
        log_query(MultiDict(sinceSeconds="5", sinceTime="2026-12-01T21:00:00Z"), "web")
    with pytest.raises(E.BadRequest, match="tailLines"):
        log_query(MultiDict(tailLines="ten"), "web")


def test_exec_options_need_a_command_and_a_stream() -> None:
    q = MultiDict([("command", "sh"), ("command", "-c"), ("command", "echo hi"), ("stdout", "true"),
                   ("stderr", "true"), ("tty", "true"), ("stdin", "true")])
    assert exec_query(q, attach=False) == [("command", "sh"), ("command", "-c"), ("command", "echo hi"),
                                           ("stdin", "1"), ("stdout", "1"), ("tty", "1")]
    with pytest.raises(E.BadRequest, match="at least one command"):
        exec_query(MultiDict(stdout="true"), attach=False)
    with pytest.raises(E.BadRequest, match="at least 1 of stdin, stdout, stderr"):
        exec_query(MultiDict(tty="true"), attach=True)
