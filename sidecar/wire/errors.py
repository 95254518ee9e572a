"""The errors the sidecar answers with, and the helpers that word them.

Codes come from protocol/errors.json, by name, and nowhere else. Raise `SidecarError("UnknownProcess",
"...", {"pid": pid})` anywhere below the dispatcher; sidecar/wire/dispatch.py turns it into the JSON-RPC
error object. Every message is one sentence naming the field or program; details go in `data`.
"""

from __future__ import annotations

import errno as errno_module
from typing import Any

import orjson

from . import protocol_files

_CODES = protocol_files.error_codes()


class SidecarError(Exception):
    """An error answered to the host: a code from errors.json, one sentence, and structured data."""

    def __init__(self, name: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.name = name
        self.code = _CODES[name]
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def code_of(name: str) -> int:
    return _CODES[name]


def invalid_params(field: str, expected: str, received: Any, message: str | None = None) -> SidecarError:
    """InvalidParams with the data every one carries: the field, what it expects and what came.
    The message defaults to "<field> must be <expected>, got <received>."."""
    if message is None:
        message = f"{field} must be {expected}, got {show(received)}."
    return SidecarError("InvalidParams", message, {"field": field, "expected": expected, "received": received})


def stdin_unavailable(pid: int, reason: str, message: str, number: int | None = None) -> SidecarError:
    """StdinUnavailable: `reason` is "null", "closed" or the errno's name (EPIPE, EIO), with `number`."""
    data: dict[str, Any] = {"pid": pid, "reason": reason}
    if number is not None:
        data["errno"] = number
    return SidecarError("StdinUnavailable", message, data)


def errno_name(number: int | None) -> str:
    """ENOENT for 2, and so on; a host should not need a table of numbers."""
    if number is None:
        return "EUNKNOWN"
    return errno_module.errorcode.get(number, f"E{number}")


def show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a received value, for messages."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def child_path(path: str, key: str | int) -> str:
    """The path of a member, for messages and `data.field`: params.args[1], params.env.HOME, params.env["A-B"]."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{show(key)}]"
