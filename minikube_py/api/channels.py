"""The channel protocol of exec and attach over WebSocket (Kubernetes' `*.channel.k8s.io`), pure.

Every binary frame is `[channel byte] + data`: 0 stdin, 1 stdout, 2 stderr, 3 error (a metav1
Status: Success, or Failure with reason NonZeroExitCode and the exit code in details.causes),
4 resize (JSON {"Width", "Height"}).  v5 adds a close frame `[255, channel]` (stdin EOF); the
base64 variants send text frames: the channel as an ASCII digit, then the data in base64; the
oldest `channel.k8s.io` has a plain-text error channel.  Used by the agent's streaming server
(agents/kubelet/streaming.py), the apiserver's relay (apiserver/streaming.py) and mkctl.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: [255, channel] closes that channel

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V1 = "channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
# what the apiserver accepts from clients, in its order of preference
CLIENT_PROTOCOLS = (V5, V4, V4_BASE64, V1, BASE64)
# what the agent speaks; the relay asks for v5 when the client speaks v5, else v4
AGENT_PROTOCOLS = (V5, V4)


class FrameError(ValueError):
    """A frame that breaks the channel protocol (empty, an unknown channel, bad base64)."""


@dataclass(frozen=True, slots=True)
class Frame:
    channel: int
    data: bytes


def agent_protocol(client_protocol: str) -> str:
    return V5 if client_protocol == V5 else V4


def decode(payload: bytes | str, protocol: str) -> Frame:
    """One WebSocket message of `protocol` as (channel, data)."""
    if protocol in (V4_BASE64, BASE64):
        text = payload if isinstance(payload, str) else payload.decode("ascii", "replace")
        if not text or not text[0].isdigit():
            raise FrameError(f"a base64 channel frame starts with a channel digit, got {text[:1]!r}")
        try:
            return Frame(int(text[0]), base64.b64decode(text[1:], validate=True))
        except binascii.Error as exc:
            raise FrameError(f"bad base64 in a channel frame: {exc}") from None
    raw = payload.encode() if isinstance(payload, str) else payload
    if not raw:
        raise FrameError("an empty channel frame")
    return Frame(raw[0], bytes(raw[1:]))


def encode(frame: Frame, protocol: str) -> bytes | str:
    """The message for `frame` in `protocol` (str for the base64 variants, which use text frames)."""
    if protocol in (V4_BASE64, BASE64):
        return str(frame.channel) + base64.b64encode(frame.data).decode("ascii")
    return bytes([frame.channel]) + frame.data


def translate(payload: bytes | str, source: str, target: str) -> bytes | str | None:
    """A message of `source` re-encoded for `target`; None when `target` has no such message
    (a v5 close frame for a v4 peer, a resize for channel.k8s.io).  v4's JSON error Status becomes
    its message for the plain-text error channel of channel.k8s.io and base64.channel.k8s.io."""
    if source == target:
        return payload
    frame = decode(payload, source)
    if frame.channel == CLOSE and target != V5:
        return None
    if frame.channel == ERROR and target in (V1, BASE64) and source not in (V1, BASE64):
        status = parse_status(frame.data)
        if status.get("status") == "Success":
            return None
        frame = Frame(ERROR, str(status.get("message") or "").encode())
    if frame.channel == RESIZE and target in (V1, BASE64):
        return None
    return encode(frame, target)


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int) -> dict[str, Any]:
    """What the kubelet writes on the error channel for a command that exited with `code`."""
    if code == 0:
        return success_status()
    return {"metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500}


def parse_status(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {"status": "Failure", "message": data.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"status": "Failure", "message": str(value)}


def exit_code(status: dict[str, Any]) -> int | None:
    """The remote command's exit code from an error-channel Status (0 for Success); None when the
    Status is a failure without an exit code (the stream failed, not the command)."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    return None
    return None


def resize_payload(width: int, height: int) -> bytes:
    return json.dumps({"Width": width, "Height": height}).encode()


def parse_resize(data: bytes) -> tuple[int, int] | None:
    try:
        value = json.loads(data)
        return int(value["Width"]), int(value["Height"])
    except (ValueError, KeyError, TypeError):
        return None
