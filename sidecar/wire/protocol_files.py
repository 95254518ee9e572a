"""Find and load protocol/: the method index, the error table and the JSON Schemas.

protocol/ is the single source of truth. In a source checkout it sits beside the package; an installed
wheel or a bundled binary carries a copy inside the package (sidecar/protocol), put there by the build.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pathlib import Path

# os.path, not pathlib: this is read at every start, and pathlib (with urllib.parse behind it) is not needed then.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_CANDIDATES = (os.path.join(_PACKAGE_DIR, "protocol"), os.path.join(os.path.dirname(_PACKAGE_DIR), "protocol"))


@cache
def _folder() -> str:
    for candidate in _CANDIDATES:
        if os.path.isfile(os.path.join(candidate, "methods.json")):
            return candidate
    raise FileNotFoundError(
        "protocol/methods.json was found neither inside the package nor beside it: " + ", ".join(_CANDIDATES)
    )


def protocol_dir() -> Path:
    from pathlib import Path

    return Path(_folder())


def load(relative: str) -> Any:
    with open(os.path.join(_folder(), relative), "rb") as file:
        return orjson.loads(file.read())


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
    names = sorted(name for name in os.listdir(os.path.join(_folder(), "schemas")) if name.endswith(".json"))
    return {name: load(os.path.join("schemas", name)) for name in names}


def protocol_version() -> str:
    return load("methods.json")["protocolVersion"]


@cache
def raw_channel() -> dict[str, Any]:
    """The raw channel's frame layout, from raw-channel.json."""
    return load("raw-channel.json")
