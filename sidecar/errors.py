"""The errors the sidecar answers with. Codes come from protocol/errors.json, by name, and nowhere else.

Raise `SidecarError("UnknownProcess", "...", {"pid": pid})` anywhere below the dispatcher; sidecar/rpc.py
turns it into the JSON-RPC error object.
"""

from __future__ import annotations

import errno as errno_module
from typing import Any

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


def errno_name(number: int | None) -> str:
    """ENOENT for 2, and so on; a host should not need a table of numbers."""
    if number is None:
        return "EUNKNOWN"
    return errno_module.errorcode.get(number, f"E{number}")
