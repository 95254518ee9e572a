"""write and closeStdin: bytes reach the child in order; EOF is deliverable; failures are errors."""

import base64
import errno
import os
from pathlib import Path

from sidecar_client import eventually, python


def test_write_then_close_stdin_gives_the_child_end_of_file(sidecar):
    pid = sidecar.spawn("cat")
    sidecar.request("write", {"pid": pid, "data": "hello "})
    sidecar.request("write", {"pid": pid, "data": "wörld\n"})
    sidecar.request("closeStdin", {"pid": pid})
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output(pid) == "hello wörld\n"
    assert sidecar.error("closeStdin", {"pid": pid}).code == -32003


def test_base64_write_is_byte_exact(sidecar):
    pid = sidecar.spawn("cat", encoding="base64")
    data = bytes(range(256)) * 16
    sidecar.request("write", {"pid": pid, "data": base64.b64encode(data).decode(), "encoding": "base64"})
    sidecar.request("closeStdin", {"pid": pid})
    sidecar.wait_exit(pid)
    assert sidecar.output_bytes(pid) == data


def _writer(fifo: Path) -> int | None:
    """A write end of `fifo` once something has it open for reading; None before that."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
        return None


def test_write_resolves_only_when_the_child_has_room(sidecar, tmp_path):
    # The child reads nothing until the test opens its gate (a FIFO); a large write must stay pending meanwhile.
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    code = f"import sys\nopen({str(gate)!r}).read()\ndata = sys.stdin.buffer.read()\nprint(len(data))"
    pid = sidecar.spawn(*python(code))
    size = 4 * 1024 * 1024
    write_id = sidecar.start_request("write", {"pid": pid, "data": "z" * size})
    sidecar.request("list")  # answered after the write was taken in hand, and the pipe filled
    assert write_id not in sidecar.responses, "a write bigger than the pipe cannot be done yet"
    os.close(eventually(lambda: _writer(gate), what="the child at its gate"))  # the gate opens: it reads
    assert sidecar.result(write_id) is None
    sidecar.request("closeStdin", {"pid": pid})
    sidecar.wait_exit(pid)
    assert sidecar.output(pid) == f"{size}\n"


def test_close_stdin_twice_is_harmless(sidecar):
    pid = sidecar.spawn(*python("import sys, time; sys.stdin.read(); time.sleep(0.3)"))
    sidecar.request("closeStdin", {"pid": pid})
    assert sidecar.request("closeStdin", {"pid": pid}) is None
    sidecar.wait_exit(pid)


def test_write_after_close_stdin_is_stdin_unavailable(sidecar):
    pid = sidecar.spawn(*python("import time; time.sleep(1)"))
    sidecar.request("closeStdin", {"pid": pid})
    error = sidecar.error("write", {"pid": pid, "data": "late"})
    assert error.code == -32004 and error.data == {"pid": pid, "reason": "closed"}
    sidecar.request("kill", {"pid": pid, "signal": "SIGKILL"})


def test_write_to_a_child_that_closed_its_stdin_is_epipe_not_a_crash(sidecar):
    pid = sidecar.spawn(*python("import os, time; os.close(0); print('closed', flush=True); time.sleep(5)"))
    sidecar.wait_for(lambda: sidecar.output(pid) == "closed\n", what="the child to close stdin")
    error = sidecar.error("write", {"pid": pid, "data": "x" * 100})
    assert error.code == -32004 and error.data["reason"] == "EPIPE"
    assert sidecar.request("initialize") is not None
    sidecar.request("kill", {"pid": pid, "signal": "SIGKILL"})


def test_write_to_stdin_null_is_stdin_unavailable(sidecar):
    pid = sidecar.spawn("sleep", "5", stdin="null")
    error = sidecar.error("write", {"pid": pid, "data": "x"})
    assert error.code == -32004 and error.data["reason"] == "null"
    sidecar.request("kill", {"pid": pid})


def test_write_with_bad_base64_names_the_field(sidecar):
    pid = sidecar.spawn("cat")
    error = sidecar.error("write", {"pid": pid, "data": "not base64!", "encoding": "base64"})
    assert error.code == -32602 and error.data["field"] == "params.data"
    sidecar.request("kill", {"pid": pid})
