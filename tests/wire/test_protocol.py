"""protocol/ is the single source of truth: it is well formed, the sidecar agrees with it, the docs too."""

import json
import re
import time

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.wire import protocol_files
from sidecar.wire.schema import SchemaViolation, compile_schemas
from sidecar.processes.signals import SIGNALS
from sidecar_client import CHECKER, PROTOCOL, Sidecar

METHODS = json.loads((PROTOCOL / "methods.json").read_text())["methods"]
ERRORS = json.loads((PROTOCOL / "errors.json").read_text())["errors"]
VECTORS = [json.loads(line) for line in (PROTOCOL / "vectors" / "core.jsonl").read_text().splitlines() if line.strip()]
RESERVED = {-32001, -32002} | set(range(-32099, -32095))


@pytest.mark.parametrize("name", sorted(CHECKER.schemas))
def test_every_schema_is_valid_draft_2020_12(name):
    jsonschema.Draft202012Validator.check_schema(CHECKER.schemas[name])


def test_the_method_index_names_existing_schemas_and_errors():
    names = {e["name"] for e in ERRORS}
    for method in METHODS:
        for key in ("params", "result"):
            if key in method:
                assert (PROTOCOL / method[key]).is_file(), method[key]
        assert set(method.get("errors", [])) <= names, method["name"]
        assert method["kind"] in {"request", "notification"}
        assert method["direction"] in {"host-to-sidecar", "sidecar-to-host"}
        assert (method["kind"] == "request") == ("result" in method)


def test_error_codes_are_unique_and_in_the_sidecar_range():
    codes = [e["code"] for e in ERRORS]
    assert len(codes) == len(set(codes))
    for error in ERRORS:
        if error["code"] > -32100 and error["code"] <= -32000:
            assert error["code"] not in RESERVED, f"{error['name']} uses a code vscode-jsonrpc/LSP reserve"
        else:
            assert error["code"] in {-32700, -32600, -32601, -32602, -32603}, error


def test_the_written_spec_mentions_every_method_and_error():
    spec = (PROTOCOL / "PROTOCOL.md").read_text()
    for method in METHODS:
        assert f"`{method['name']}`" in spec, method["name"]
    for error in ERRORS:
        assert re.search(rf"{error['code']}\s*\|\s*{error['name']}", spec), error["name"]


def test_the_installed_package_finds_the_same_protocol():
    assert protocol_files.protocol_dir().resolve() == PROTOCOL.resolve()


# -- our validator agrees with the reference implementation ---------------------------------------------

COMPILED = compile_schemas(CHECKER.schemas)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 100_000) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "ls", "SIGTERM", "SIGKILL", "TERM", "utf-8", "base64", "pipe", "null", "x\u00e9"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["program", "args", "command", "cwd", "env", "clearEnv", "encoding", "stdin", "pid",
                         "data", "signal", "tree", "forceAfterMs", "timeoutMs", "maxBuffer", "input", "id",
                         "clientInfo", "name", "PATH", "other"]),
        children, max_size=5),
    max_leaves=12,
)
PARAMS_SCHEMAS = sorted({m["params"].rpartition("/")[2] for m in METHODS})


def _agree(schema_file, value):
    reference = CHECKER.validator(schema_file).is_valid(value)
    try:
        COMPILED[schema_file](value, "params")
        ours = True
    except SchemaViolation:
        ours = False
    assert ours == reference, f"{schema_file}: ours={ours} jsonschema={reference} for {value!r}"


@pytest.mark.parametrize("schema_file", PARAMS_SCHEMAS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES)
def test_our_validator_agrees_with_jsonschema_on_random_values(schema_file, value):
    _agree(schema_file, value)


@pytest.mark.parametrize("schema_file", PARAMS_SCHEMAS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_our_validator_agrees_with_jsonschema_near_valid_values(schema_file, data):
    # Start from a valid object and change one member: the interesting edge of each schema.
    base = {"program": "ls", "pid": 5, "data": "x", "id": 1}
    schema = CHECKER.schemas[schema_file]
    value = {k: v for k, v in base.items() if k in schema.get("properties", {})}
    key = data.draw(st.sampled_from(sorted(schema.get("properties", {})) or ["other"]))
    value[key] = data.draw(JSON_VALUES)
    _agree(schema_file, value)


# -- conformance vectors, replayed against a real sidecar ------------------------------------------------

def _matches(expected, actual, path="$"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing in {actual!r}"
            _matches(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        remaining = list(actual)
        for item in expected:  # batch answers may come in any order
            for candidate in remaining:
                try:
                    _matches(item, candidate, path)
                except AssertionError:
                    continue
                remaining.remove(candidate)
                break
            else:
                raise AssertionError(f"{path}: nothing matches {item!r} in {actual!r}")
    else:
        assert expected == actual and type(expected) is type(actual), f"{path}: {expected!r} != {actual!r}"


@pytest.fixture(scope="module")
def vector_sidecar():
    session = Sidecar()
    yield session
    session.kill()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_conformance_vector(vector_sidecar, vector):
    vector_sidecar.send_line(vector["send"])
    if vector["expect"] is None:
        time.sleep(0.2)
        vector_sidecar.send_line('{"jsonrpc":"2.0","id":"probe","method":"initialize"}')
        assert vector_sidecar.next_message()["id"] == "probe", "a notification must not be answered"
    else:
        _matches(vector["expect"], vector_sidecar.next_message())


def test_initialize_reports_the_signals_kill_accepts(sidecar):
    capabilities = sidecar.request("initialize")["capabilities"]
    assert capabilities["signals"] == list(SIGNALS)
    assert {"SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1"} <= set(capabilities["signals"])
