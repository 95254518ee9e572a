"""A clear answer for every bad input, and the sidecar keeps serving."""

import json

import pytest

from sidecar_client import Sidecar


def _alive_and_serving(sidecar):
    assert sidecar.request("initialize")["protocolVersion"] == "1"


def test_unparsable_line_is_a_parse_error_with_id_null(sidecar):
    sidecar.send_line(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    message = sidecar.next_message()
    assert message["id"] is None and message["error"]["code"] == -32700
    sidecar.send_line(b"\xff\xfe not utf-8")
    assert sidecar.next_message()["error"]["code"] == -32700
    _alive_and_serving(sidecar)


@pytest.mark.parametrize(
    ("request_", "field", "answered_id"),
    [
        ({"jsonrpc": "1.0", "id": 7, "method": "initialize"}, "jsonrpc", 7),
        ({"id": "abc", "method": "initialize"}, "jsonrpc", "abc"),
        ({"jsonrpc": "2.0", "id": 8, "method": 5}, "method", 8),
        ({"jsonrpc": "2.0", "id": 9, "method": "spawn", "params": "ls"}, "params", 9),
        ({"jsonrpc": "2.0", "id": {"no": 1}, "method": "initialize"}, "id", None),
        ({"jsonrpc": "2.0", "id": True, "method": "initialize"}, "id", None),
    ],
)
def test_invalid_requests_name_the_field_and_keep_a_usable_id(sidecar, request_, field, answered_id):
    sidecar.send(request_)
    message = sidecar.next_message()
    assert message["error"]["code"] == -32600
    assert message["error"]["data"]["field"] == field
    assert field in message["error"]["message"]
    assert message["id"] == answered_id
    _alive_and_serving(sidecar)


def test_unknown_method(sidecar):
    error = sidecar.error("launchMissiles", {})
    assert error.code == -32601 and error.data == {"method": "launchMissiles"}


def test_unknown_notification_is_ignored(sidecar):
    sidecar.notify("nobody/listens", {})
    _alive_and_serving(sidecar)
    assert not sidecar.notifications


@pytest.mark.parametrize(
    ("params", "field", "expected_words"),
    [
        ({}, "params", "program or command"),
        ({"program": "ls", "command": "ls"}, "params", "program or command"),
        ({"program": ""}, "params.program", "non-empty"),
        ({"program": "ls", "args": "-l"}, "params.args", "array"),
        ({"program": "ls", "args": ["-l", 3]}, "params.args[1]", "string"),
        ({"command": "ls", "args": ["-l"]}, "params.args", "command"),
        ({"program": "ls", "timeout": 5}, "params.timeout", "known"),
        ({"program": "ls", "encoding": "latin-1"}, "params.encoding", "utf-8"),
        ({"program": "ls", "env": {"A": 1}}, "params.env.A", "string"),
        ({"program": "ls", "env": {"A=B": "x"}}, 'params.env["A=B"]', "name"),
        ({"program": "ls", "args": ["a\u0000b"]}, "params.args[0]", "NUL"),
        ({"command": "ls 'unterminated"}, "params.command", "quot"),
        ({"command": "   "}, "params.command", "program"),
    ],
)
def test_invalid_spawn_params_name_field_expected_and_received(sidecar, params, field, expected_words):
    error = sidecar.error("spawn", params)
    assert error.code == -32602, error.message
    assert error.data["field"] == field
    assert expected_words in error.message or expected_words in error.data["expected"], error.message
    assert set(error.data) >= {"field", "expected"}


def test_params_as_an_array_is_invalid_params(sidecar):
    sidecar.send({"jsonrpc": "2.0", "id": 1, "method": "spawn", "params": ["ls"]})
    message = sidecar.next_message()
    assert message["error"]["code"] == -32602 and message["id"] == 1


def test_spawn_failures_name_the_program_and_carry_errno(sidecar, tmp_path):
    error = sidecar.error("spawn", {"program": "no-such-program-xyz"})
    assert error.code == -32000
    assert "no-such-program-xyz" in error.message
    assert error.data["code"] == "ENOENT" and error.data["errno"] == 2

    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    error = sidecar.error("spawn", {"program": str(script)})
    assert error.data["code"] == "EACCES" and str(script) in error.message

    error = sidecar.error("spawn", {"program": "ls", "cwd": str(tmp_path / "missing")})
    assert error.data["code"] == "ENOENT"
    assert "working directory" in error.message and error.data["cwd"] == str(tmp_path / "missing")
    _alive_and_serving(sidecar)


def test_batch_answers_each_member_on_its_own(sidecar):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 99}},
        {"jsonrpc": "2.0", "id": 3, "method": "kill", "params": {"pid": "x"}},
        42,
        {"jsonrpc": "2.0", "id": 4, "method": "execute", "params": {"program": "echo", "args": ["ok"]}},
    ]
    sidecar.send(batch)
    answer = sidecar.next_message()
    assert isinstance(answer, list) and len(answer) == 5
    by_id = {a["id"]: a for a in answer if a["id"] is not None}
    assert by_id[1]["result"]["protocolVersion"] == "1"
    assert by_id[2]["error"]["code"] == -32601
    assert by_id[3]["error"]["code"] == -32602 and by_id[3]["error"]["data"]["field"] == "params.pid"
    assert by_id[4]["result"]["stdout"] == "ok\n"
    assert [a["error"]["code"] for a in answer if a["id"] is None] == [-32600]


def test_empty_batch_is_invalid_and_a_batch_of_notifications_gets_no_answer(sidecar):
    sidecar.send([])
    assert sidecar.next_message()["error"]["code"] == -32600
    sidecar.send([{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}])
    _alive_and_serving(sidecar)
    assert sidecar.next_message()["id"] is not None  # the initialize answer, nothing for the batch


def test_a_spawn_inside_a_batch_holds_its_output_until_the_batch_answer():
    sidecar = Sidecar()
    try:
        sidecar.send([
            {"jsonrpc": "2.0", "id": 1, "method": "spawn", "params": {"program": "echo", "args": ["early"]}},
            {"jsonrpc": "2.0", "id": 2, "method": "execute", "params": {"program": "sleep", "args": ["0.5"]}},
        ])
        first = sidecar.next_message()
        assert isinstance(first, list), f"output came before the batch answer: {first}"
        pid = next(a["result"]["pid"] for a in first if a["id"] == 1)
        sidecar.wait_exit(pid)
        assert sidecar.output(pid) == "early\n"
    finally:
        sidecar.kill()


def test_a_line_over_the_cap_is_refused_and_the_next_line_is_served():
    sidecar = Sidecar("--max-line-bytes", "1000")
    try:
        big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "write", "params": {"pid": 1, "data": "x" * 5000}})
        # Sent in pieces, as a real pipe would deliver it, with a good line right behind it.
        sidecar.send_line(big.encode() + b"\n" + b'{"jsonrpc":"2.0","id":2,"method":"initialize"}')
        message = sidecar.next_message()
        assert message["id"] is None and message["error"]["code"] == -32005
        assert message["error"]["data"] == {"limit": 1000, "received": len(big)}
        assert sidecar.next_message()["id"] == 2
    finally:
        sidecar.kill()


def test_blank_lines_and_crlf_are_tolerated(sidecar):
    sidecar.send_line(b"\n\r\n")
    sidecar.send_line(b'{"jsonrpc":"2.0","id":5,"method":"initialize"}\r\n')
    assert sidecar.next_message()["id"] == 5
