"""Compile the protocol's JSON Schemas into fast validators with messages that name the field.

Why not the jsonschema package: it costs about 50 us per request and 50 ms of start-up, and its messages
do not name the field the way an API user needs ("params.args[1] must be a string, got 42"). The
protocol's schemas use a dozen keywords of draft 2020-12; this module implements exactly those and
refuses to compile a schema that uses any other, so a schema can never be silently half-checked.
tests/wire/test_protocol.py proves that this validator and jsonschema accept and reject the same
values.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

from .errors import child_path, show

Check = Callable[[Any, str], None]
"""A compiled schema: raises SchemaViolation for a value (the str is the value's path, e.g. params.pid)."""

# Keywords that only describe; a validator ignores them.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
)
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "dependentSchemas",
    "items",
    "minimum",
    "maximum",
    "minLength",
    "minItems",
    "pattern",
    "oneOf",
    "anyOf",
    "$ref",
}

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


class SchemaViolation(Exception):
    """A value does not match its schema. `str(exc)` is one sentence naming the field."""

    def __init__(self, field: str, expected: str, received: Any, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.received = received


class SchemaError(Exception):
    """A schema in protocol/ uses something this module does not implement (a defect, found at start)."""


def _is_type(value: Any, name: str) -> bool:
    # bool is a subclass of int in Python but never a number in JSON.
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        if isinstance(value, bool):
            return False
        # JSON Schema counts 1.0 as an integer, and so do we, to agree with the reference validator.
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "null":
        return value is None
    raise SchemaError(f"unknown type {name!r}")


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def describe(schema: Any) -> str:
    """What a schema expects, in a few words, for messages about a missing or wrong member."""
    if schema is True or not isinstance(schema, dict):
        return "any value"
    if "const" in schema:
        return show(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(show(v) for v in schema["enum"])
    types = schema.get("type")
    if isinstance(types, str):
        return _TYPE_NAMES[types]
    if isinstance(types, list):
        return " or ".join(_TYPE_NAMES[t] for t in types)
    return "a value"


class _Compiler:
    def __init__(self, documents: Mapping[str, dict]) -> None:
        self._documents = documents
        self._refs: dict[str, Check] = {}

    def resolve(self, base: str, ref: str) -> tuple[str, Any]:
        document, _, pointer = ref.partition("#")
        document = document or base
        if document not in self._documents:
            raise SchemaError(f"$ref {ref!r} names a schema that is not loaded")
        node: Any = self._documents[document]
        for part in filter(None, pointer.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return document, node

    def compile(self, schema: Any, base: str, context: str = "") -> Check:
        """Compile `schema`, found in document `base`. `context` (" together with pty") finishes the messages of
        false schemas and consts: it says why a member that is fine alone is refused here."""
        if schema is True:
            return lambda value, path: None
        if schema is False:

            def forbidden(value: Any, path: str) -> None:
                raise SchemaViolation(path, "nothing", value, f"{path} is not allowed{context}")

            return forbidden
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, not {show(schema)}")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise SchemaError(f"unsupported keywords {sorted(unknown)} in {base}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(base, schema["$ref"]))
        if "type" in schema:
            checks.append(self._type(schema))
        if "const" in schema:
            checks.append(self._enum(schema, [schema["const"]], context))
        if "enum" in schema:
            checks.append(self._enum(schema, schema["enum"]))
        checks.extend(self._scalar_bounds(schema))
        if {"properties", "required", "additionalProperties", "dependentSchemas"} & schema.keys():
            checks.append(self._object(schema, base, context))
        if "items" in schema or "minItems" in schema:
            checks.append(self._array(schema, base))
        if "oneOf" in schema:
            checks.append(self._one_of(schema["oneOf"], base))
        if "anyOf" in schema:
            checks.append(self._any_of(schema["anyOf"], base))
        if len(checks) == 1:
            return checks[0]

        def all_of(value: Any, path: str) -> None:
            for check in checks:
                check(value, path)

        return all_of

    def _ref(self, base: str, ref: str) -> Check:
        document, target = self.resolve(base, ref)
        key = f"{document}#{ref.partition('#')[2]}"
        compiled = self._refs
        if key not in compiled:
            # Looked up when called, not now, so that a schema that refers to itself compiles.
            compiled[key] = None  # type: ignore[assignment]
            compiled[key] = self.compile(target, document)

        def check_ref(value: Any, path: str) -> None:
            compiled[key](value, path)

        return check_ref

    def _type(self, schema: dict) -> Check:
        types = schema["type"]
        types = [types] if isinstance(types, str) else list(types)
        for name in types:
            if name not in _TYPE_NAMES:
                raise SchemaError(f"unknown type {name!r}")
        expected = describe({"type": types})

        def check_type(value: Any, path: str) -> None:
            for name in types:
                if _is_type(value, name):
                    return
            raise SchemaViolation(path, expected, value, f"{path} must be {expected}, got {show(value)}")

        return check_type

    def _enum(self, schema: dict, allowed: list, context: str = "") -> Check:
        expected = describe(schema if "enum" in schema else {"const": allowed[0]}) + context

        def check_enum(value: Any, path: str) -> None:
            if not any(_json_equal(value, option) for option in allowed):
                raise SchemaViolation(path, expected, value, f"{path} must be {expected}, got {show(value)}")

        return check_enum

    def _scalar_bounds(self, schema: dict) -> list[Check]:
        checks: list[Check] = []
        if "minimum" in schema or "maximum" in schema:
            low, high = schema.get("minimum"), schema.get("maximum")

            def check_range(value: Any, path: str) -> None:
                if not _is_type(value, "number"):
                    return
                if low is not None and value < low:
                    raise SchemaViolation(
                        path, f"at least {low}", value, f"{path} must be at least {low}, got {show(value)}"
                    )
                if high is not None and value > high:
                    raise SchemaViolation(
                        path, f"at most {high}", value, f"{path} must be at most {high}, got {show(value)}"
                    )

            checks.append(check_range)
        if "minLength" in schema:
            shortest = schema["minLength"]
            expected = "a non-empty string" if shortest == 1 else f"a string of at least {shortest} characters"

            def check_length(value: Any, path: str) -> None:
                if isinstance(value, str) and len(value) < shortest:
                    raise SchemaViolation(path, expected, value, f"{path} must be {expected}, got {show(value)}")

            checks.append(check_length)
        if "pattern" in schema:
            pattern = re.compile(schema["pattern"])
            expected = f"a string matching {schema['pattern']}"

            def check_pattern(value: Any, path: str) -> None:
                if isinstance(value, str) and not pattern.search(value):
                    raise SchemaViolation(path, expected, value, f"{path} must be {expected}, got {show(value)}")

            checks.append(check_pattern)
        return checks

    def _object(self, schema: dict, base: str, context: str) -> Check:
        properties = {
            name: self.compile(sub, base, context) for name, sub in schema.get("properties", {}).items()
        }
        required = [
            (name, describe(self._peek(schema.get("properties", {}).get(name, True), base)))
            for name in schema.get("required", [])
        ]
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is True or extra is False else self.compile(extra, base)
        closed = extra is False
        known = ", ".join(properties) or "none"
        dependents = [
            (name, self.compile(sub, base, context=f" together with {name}"))
            for name, sub in schema.get("dependentSchemas", {}).items()
        ]

        def check_object(value: Any, path: str) -> None:
            if not isinstance(value, dict):
                return
            for name, expected in required:
                if name not in value:
                    field = child_path(path, name)
                    raise SchemaViolation(field, expected, None, f"{field} is required ({expected})")
            for name, member in value.items():
                check = properties.get(name)
                if check is not None:
                    check(member, child_path(path, name))
                elif closed:
                    field = child_path(path, name)
                    raise SchemaViolation(
                        field, f"one of the known members: {known}", member,
                        f"{field} is not a known member (known: {known})",
                    )
                elif extra_check is not None:
                    extra_check(member, child_path(path, name))
            for name, check in dependents:
                if name in value:
                    check(value, path)

        return check_object

    def _peek(self, schema: Any, base: str) -> Any:
        """Follow a $ref to the schema it names, to describe it."""
        while isinstance(schema, dict) and "$ref" in schema:
            base, schema = self.resolve(base, schema["$ref"])
        return schema

    def _array(self, schema: dict, base: str) -> Check:
        item = self.compile(schema["items"], base) if "items" in schema else None
        fewest = schema.get("minItems", 0)

        def check_array(value: Any, path: str) -> None:
            if not isinstance(value, list):
                return
            if len(value) < fewest:
                raise SchemaViolation(
                    path, f"at least {fewest} items", value, f"{path} must have at least {fewest} items"
                )
            if item is not None:
                for index, member in enumerate(value):
                    item(member, child_path(path, index))

        return check_array

    def _one_of(self, branches: list, base: str) -> Check:
        compiled = [self.compile(branch, base) for branch in branches]
        # The protocol's oneOf says "exactly one of these members": name them in the message.
        names = [
            branch["required"][0]
            for branch in branches
            if isinstance(branch, dict) and list(branch) == ["required"] and len(branch["required"]) == 1
        ]
        choice = " or ".join(names) if len(names) == len(branches) else None

        def check_one_of(value: Any, path: str) -> None:
            matched = 0
            for check in compiled:
                try:
                    check(value, path)
                except SchemaViolation:
                    continue
                matched += 1
            if matched == 1:
                return
            if choice is not None:
                verb = "needs" if matched == 0 else "takes only"
                expected = f"exactly one of {choice}"
                raise SchemaViolation(path, expected, None, f"{path} {verb} one of {choice}")
            expected = f"exactly one of {len(compiled)} alternatives"
            raise SchemaViolation(path, expected, value, f"{path} must match {expected}, got {show(value)}")

        return check_one_of

    def _any_of(self, branches: list, base: str) -> Check:
        compiled = [self.compile(branch, base) for branch in branches]

        def check_any_of(value: Any, path: str) -> None:
            first: SchemaViolation | None = None
            for check in compiled:
                try:
                    check(value, path)
                    return
                except SchemaViolation as violation:
                    first = first or violation
            assert first is not None
            raise first

        return check_any_of


def compile_schemas(documents: Mapping[str, dict]) -> dict[str, Check]:
    """Compile every document (keyed by file name, which is also what `$ref`s name)."""
    compiler = _Compiler(documents)
    return {name: compiler.compile(document, name) for name, document in documents.items()}
