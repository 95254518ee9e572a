"""Find and load protocol/: the method index, the error table and the JSON Schemas.

protocol/ is the single source of truth. In a source checkout it sits beside the package; an installed
wheel or a bundled binary carries a copy inside the package (sidecar/protocol), put there by the build.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_CANDIDATES = (_PACKAGE_DIR / "protocol", _PACKAGE_DIR.parent / "protocol")


@cache
def protocol_dir() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "methods.json").is_file():
            return candidate
    raise FileNotFoundError(
        "protocol/methods.json was found neither inside the package nor beside it: "
        + ", ".join(str(c) for c in _CANDIDATES)
    )


def load(relative: str) -> Any:
    return orjson.loads((protocol_dir() / relative).read_bytes())


@cache
def methods() -> dict[str, dict]:
    """The method index of methods.json, by method name."""
    return {entry["name"]: entry for entry in load("methods.json")["methods"]}


@cache
def error_codes() -> dict[str, int]:
    """Error name -> code, from errors.json."""
    return {entry["name"]: entry["code"] for entry in load("errors.json")["errors"]}


def schema_documents() -> dict[str, dict]:
    """Every schema document, keyed by its file name (which is what a $ref names)."""
    folder = protocol_dir() / "schemas"
    return {path.name: orjson.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))}


def protocol_version() -> str:
    return load("methods.json")["protocolVersion"]


@cache
def raw_channel() -> dict[str, Any]:
    """The raw channel's frame layout, from raw-channel.json."""
    return load("raw-channel.json")
