"""Every request gets an answer in the documented shape, whatever values it carries: nesting deeper than
any encoder goes, huge values, integral floats, integers beyond what a field holds, a param named like the
dispatcher's own arguments."""

from __future__ import annotations

import json

import pytest

from sidecar_client import Sidecar


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def _depth(value: object) -> int:
    return 1 + max((_depth(item) for item in value), default=0) if isinstance(value, list) else 0


def test_a_deeply_nested_bad_value_is_answered_and_quoted_to_a_bounded_depth(sidecar: Sidecar) -> None:
    error = sidecar.error("spawn", {"program": "true", "args": _nested(400)})
    assert error.code == -32602
    assert error.data["field"] == "params.args[0]"
    assert _depth(error.data["received"]) <= 8
    assert sidecar.request("list", {}) == {"children": []}, "the sidecar keeps serving"


def test_a_batch_with_a_deeply_nested_member_is_answered_whole(sidecar: Sidecar) -> None:
    # The spawn in the same batch starts; its output is held until the batch's answer is out, so an
    # unanswered batch would hold it forever.
    batch = [
        {"jsonrpc": "2.0", "id": "deep", "method": "kill", "params": {"pid": _nested(300)}},
        {"jsonrpc": "2.0", "id": "echo", "method": "spawn", "params": {"program": "echo", "args": ["hello"]}},
    ]
    sidecar._methods.update({"deep": "kill", "echo": "spawn"})
    sidecar.send(batch)
    assert sidecar.response("deep")["error"]["code"] == -32602
    pid = sidecar.result("echo")["pid"]
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output(pid) == "hello\n"


def test_a_huge_bad_value_is_not_echoed_whole(sidecar: Sidecar) -> None:
    huge = "x" * (10 * 1024 * 1024)
    response = sidecar.response(sidecar.start_request("kill", {"pid": huge}))
    assert response["error"]["data"]["field"] == "params.pid"
    assert len(json.dumps(response)) < 4096
    assert response["error"]["data"]["received"].startswith("xxxx")


def test_a_huge_unknown_method_name_is_not_echoed_whole(sidecar: Sidecar) -> None:
    response = sidecar.response(sidecar.start_request("x" * 1_000_000, {}))
    assert response["error"]["code"] == -32601
    assert len(json.dumps(response)) < 4096


@pytest.mark.parametrize("name", ["context", "self", "params", "method"])
def test_a_param_named_like_the_dispatchers_arguments_gets_the_documented_shape(sidecar: Sidecar, name: str) -> None:
    error = sidecar.error("list", {name: 1})
    assert error.code == -32602
    assert error.data["field"] == f"params.{name}"
    assert set(error.data) == {"field", "expected", "received"}


# -- integral floats: integers everywhere -------------------------------------------------------------------


def test_an_integral_float_max_buffer_stops_a_flooding_child(sidecar: Sidecar) -> None:
    error = sidecar.error("execute", {"program": "yes", "maxBuffer": 1000000.0}, timeout=30)
    assert error.code == -32007  # MaxBufferExceeded
    assert len(error.data["stdout"]) == 1000000
    assert error.data["maxBuffer"] == 1000000


def test_a_tiny_integral_float_max_buffer_keeps_its_bytes(sidecar: Sidecar) -> None:
    error = sidecar.error("execute", {"program": "printf", "args": ["abcdef"], "maxBuffer": 2.0})
    assert error.code == -32007
    assert error.data["stdout"] == "ab"


def test_an_integral_float_terminal_size_is_a_size(sidecar: Sidecar) -> None:
    pid = sidecar.spawn("stty", "size", pty={"cols": 80.0, "rows": 24.0})
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output(pid).strip() == "24 80"


def test_a_fractional_float_is_not_an_integer(sidecar: Sidecar) -> None:
    error = sidecar.error("execute", {"program": "true", "timeoutMs": 1.5})
    assert error.code == -32602
    assert error.data["field"] == "params.timeoutMs"


# -- integers beyond what a field holds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("kill", {"pid": 2**64}, "params.pid"),
        ("kill", {"pid": 2**31}, "params.pid"),
        ("write", {"pid": 2**63, "data": ""}, "params.pid"),
        ("execute", {"program": "true", "timeoutMs": 2**40}, "params.timeoutMs"),
        ("execute", {"program": "true", "maxBuffer": 2**60}, "params.maxBuffer"),
        ("kill", {"pid": 1, "forceAfterMs": 2**33}, "params.forceAfterMs"),
        ("resize", {"pid": 1, "cols": 70000, "rows": 1}, "params.cols"),
    ],
)
def test_an_integer_beyond_the_field_is_refused_naming_it(sidecar: Sidecar, method: str, params: dict, field: str) -> None:
    error = sidecar.error(method, params)
    assert error.code == -32602, error.message
    assert error.data["field"] == field
    assert field in error.message
