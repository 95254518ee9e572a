"""execute: run to completion; timeouts, maxBuffer and cancellation stop the whole tree and say why."""

import base64
import signal
import time

from sidecar_client import descendant_named, eventually, python, read_pidfile, wait_gone


def test_execute_returns_code_and_both_streams(sidecar):
    result = sidecar.request("execute", {"program": "sh", "args": ["-c", "echo out; echo err >&2; exit 3"]})
    assert result == {"code": 3, "signal": None, "stdout": "out\n", "stderr": "err\n"}


def test_execute_reports_the_signal_that_ended_the_child(sidecar):
    result = sidecar.request("execute", {"command": "sh -c 'kill -KILL $$'"})
    assert (result["code"], result["signal"]) == (None, signal.SIGKILL)


def test_execute_feeds_input_then_end_of_file(sidecar):
    result = sidecar.request("execute", {"program": "cat", "input": "line 1\nline 2"})
    assert result["stdout"] == "line 1\nline 2"


def test_execute_without_input_gives_end_of_file_not_a_hang(sidecar):
    result = sidecar.request("execute", {"program": "cat"}, timeout=5)
    assert result == {"code": 0, "signal": None, "stdout": "", "stderr": ""}


def test_execute_base64_round_trips_every_byte(sidecar):
    data = bytes(range(256)) * 64
    result = sidecar.request("execute", {"program": "cat", "encoding": "base64", "input": base64.b64encode(data).decode()})
    assert base64.b64decode(result["stdout"]) == data


def test_timeout_stops_the_tree_and_returns_what_was_collected(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    script = f"echo started; sleep 60 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    error = sidecar.error("execute", {"program": "sh", "args": ["-c", script], "timeoutMs": 300})
    assert time.monotonic() - started < 5
    assert error.code == -32006
    assert error.data["reason"] == "timeout" and error.data["timeoutMs"] == 300
    assert error.data["stdout"] == "started\n"
    assert error.data["signal"] == signal.SIGTERM and error.data["code"] is None
    assert wait_gone(read_pidfile(pidfile)) == []


def test_timeout_forces_sigkill_on_a_child_that_ignores_sigterm(sidecar):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    error = sidecar.error("execute", {"program": python(code)[0], "args": python(code)[1:], "timeoutMs": 200, "forceAfterMs": 200})
    assert error.code == -32006 and error.data["signal"] == signal.SIGKILL


def test_max_buffer_stops_the_child_and_keeps_exactly_max_buffer_bytes(sidecar):
    code = "import sys\nwhile True: sys.stdout.write('y' * 4096)"
    program, *args = python(code)
    error = sidecar.error("execute", {"program": program, "args": args, "maxBuffer": 10000})
    assert error.code == -32007
    assert error.data["reason"] == "maxBuffer" and error.data["stream"] == "stdout" and error.data["maxBuffer"] == 10000
    assert error.data["stdout"] == "y" * 10000


def test_cancel_request_stops_an_execute(sidecar):
    request_id = sidecar.start_request("execute", {"command": "sh -c 'echo begun; sleep 60'"})
    # The shell runs sleep only once it has written "begun": the execute is under way, its output begun.
    eventually(lambda: descendant_named(sidecar.proc.pid, "sleep"), what="the execute's sleep")
    sidecar.notify("$/cancelRequest", {"id": request_id})
    response = sidecar.response(request_id, timeout=5)
    assert response["error"]["code"] == -32008
    assert response["error"]["data"]["reason"] == "cancelled"
    assert response["error"]["data"]["stdout"] == "begun\n"


def test_cancel_of_an_unknown_id_is_ignored(sidecar):
    sidecar.notify("$/cancelRequest", {"id": 12345})
    assert sidecar.request("execute", {"program": "true"})["code"] == 0


def test_a_slow_execute_never_delays_other_requests(sidecar):
    slow = sidecar.start_request("execute", {"program": "sleep", "args": ["3"]})
    started = time.monotonic()
    pid = sidecar.spawn("sleep", "60")
    sidecar.request("kill", {"pid": pid})
    sidecar.wait_exit(pid)
    assert time.monotonic() - started < 2
    assert slow not in sidecar.responses
    assert sidecar.result(slow)["code"] == 0


def test_input_with_stdin_null_is_invalid(sidecar):
    error = sidecar.error("execute", {"program": "cat", "stdin": "null", "input": "x"})
    assert error.code == -32602 and error.data["field"] == "params.input"
