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
    """InvalidParams with the data every one carries: the field, what it expects and what came (quoted).
    The message defaults to "<field> must be <expected>, got <received>."."""
    if message is None:
        message = f"{field} must be {expected}, got {show(received)}."
    return SidecarError("InvalidParams", message, {"field": field, "expected": expected, "received": quoted(received)})


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


QUOTE_CHARS = 200
"""A string quoted back in an error (data.received, data.method) keeps at most this many characters..."""
QUOTE_ITEMS = 20
"""...an array or object at most this many members..."""
QUOTE_DEPTH = 8
"""...and nesting at most this deep. So an error never costs more than a few KiB, whatever came."""
CUT = "\u2026"
"""What stands for the rest: after a cut string, as the last member of a cut array, as a cut object's key."""


def quoted(value: Any, depth: int = QUOTE_DEPTH) -> Any:
    """`value` as an error may quote it back: cut to QUOTE_CHARS, QUOTE_ITEMS and QUOTE_DEPTH (a container
    deeper than that is CUT itself). Numbers, booleans and null come back as they are."""
    if isinstance(value, str):
        return value if len(value) <= QUOTE_CHARS else value[:QUOTE_CHARS] + CUT
    if isinstance(value, list):
        if depth <= 0:
            return CUT
        items = [quoted(item, depth - 1) for item in value[:QUOTE_ITEMS]]
        return items + [CUT] if len(value) > QUOTE_ITEMS else items
    if isinstance(value, dict):
        if depth <= 0:
            return CUT
        members = {quoted(key, 0): quoted(item, depth - 1) for key, item in list(value.items())[:QUOTE_ITEMS]}
        if len(value) > QUOTE_ITEMS:
            members[CUT] = CUT
        return members
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)  # JSON has such numbers, the encoder does not
    return value


def show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a received value, for messages."""
    try:
        text = orjson.dumps(quoted(value, depth=3)).decode()
    except TypeError:  # an integer beyond 64 bits
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def child_path(path: str, key: str | int) -> str:
    """The path of a member, for messages and `data.field`: params.args[1], params.env.HOME, params.env["A-B"]."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{show(key)}]"
