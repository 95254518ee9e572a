"""The raw channel (PROTOCOL.md, Raw channel): negotiation, frames, end frames, and raw spawns."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from raw_host import HEADER, STDERR, STDOUT, RawHost, read_exactly
from sidecar_client import Sidecar, python
from stalled_host import BLOCK, PATTERN, flood_script


@pytest.fixture
def raw():
    host = RawHost()
    yield host
    host.close()


def _initialize(sidecar: Sidecar, fd: int) -> bool:
    return sidecar.request("initialize", {"rawChannel": {"fd": fd}})["capabilities"]["rawChannel"]


def _warnings(sidecar: Sidecar) -> list[str]:
    return [line for line in sidecar.stderr_lines if "raw channel" in line]


# -- negotiation ----------------------------------------------------------------------------------------


def test_a_pipe_write_end_opens_the_channel_and_a_second_initialize_answers_the_same(raw):
    assert _initialize(raw.sidecar, raw.fd) is True
    assert _initialize(raw.sidecar, 987) is True  # the first initialize decided; this one touches nothing
    assert _warnings(raw.sidecar) == []


def test_without_asking_the_capability_is_false(sidecar):
    assert sidecar.request("initialize", {})["capabilities"]["rawChannel"] is False


def _refused(pass_fds: tuple[int, ...], fd: int) -> str:
    sidecar = Sidecar(pass_fds=pass_fds)
    try:
        assert _initialize(sidecar, fd) is False
        sidecar.wait_for(lambda: _warnings(sidecar), what="the warning")
        assert sidecar.request("initialize", {"rawChannel": {"fd": fd}})["capabilities"]["rawChannel"] is False
        assert sidecar.close() == 0
        warnings = _warnings(sidecar)
        assert len(warnings) == 1, warnings
        assert f"descriptor {fd} " in warnings[0], warnings
        return warnings[0]
    finally:
        sidecar.kill()


def test_a_descriptor_that_is_not_open_is_refused_with_one_warning():
    assert "not open" in _refused((), 900)


def test_a_regular_file_is_refused(tmp_path):
    fd = os.open(tmp_path / "file", os.O_WRONLY | os.O_CREAT)
    try:
        assert "not a pipe or a socket" in _refused((fd,), fd)
    finally:
        os.close(fd)


def test_the_read_end_of_a_pipe_is_refused():
    read_fd, write_fd = os.pipe()
    try:
        assert "not open for writing" in _refused((read_fd,), read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_spawn_raw_without_a_channel_is_invalid_params_naming_encoding(sidecar):
    error = sidecar.error("spawn", {"program": "true", "encoding": "raw"})
    assert error.code == -32602
    assert "params.encoding" in error.message
    assert error.data["field"] == "params.encoding"


# -- frames ---------------------------------------------------------------------------------------------


def test_raw_output_arrives_as_frames_with_end_frames_and_no_notifications(raw):
    pid = raw.sidecar.spawn("sh", "-c", "printf out; printf err >&2; exit 3", encoding="raw")
    assert raw.sidecar.wait_exit(pid) == {"pid": pid, "code": 3, "signal": None}
    raw.wait_ended(pid)
    assert bytes(raw.stream(pid, STDOUT).data) == b"out"
    assert bytes(raw.stream(pid, STDERR).data) == b"err"
    assert raw.stream(pid, STDOUT).ends == raw.stream(pid, STDERR).ends == 1
    assert [n["method"] for n in raw.sidecar.events(pid)] == ["exit"]


def test_utf8_and_base64_spawns_still_use_notifications_while_the_channel_is_open(raw):
    status, out, err = raw.sidecar.run("sh", "-c", "printf text; printf more >&2")
    assert (status["code"], out, err) == (0, "text", "more")
    pid = raw.sidecar.spawn("printf", "\\377\\000", encoding="base64")
    raw.sidecar.wait_exit(pid)
    assert raw.sidecar.output_bytes(pid) == b"\xff\x00"
    assert not raw.streams, "frames for a spawn that did not ask for raw"


def _frames_in_the_pipe(fd: int) -> list[tuple[int, int, int]]:
    """(pid, stream, length) of every frame the channel holds right now, without waiting for more."""
    os.set_blocking(fd, False)
    try:
        data = b""
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.set_blocking(fd, True)
    frames = []
    while data:
        pid, stream, length = HEADER.unpack_from(data)
        frames.append((pid, stream, length))
        data = data[HEADER.size + length :]
    return frames


def test_both_end_frames_are_in_the_channel_when_exit_is_read():
    host = RawHost(read=False)
    try:
        for n in range(20):
            pid = host.sidecar.spawn("sh", "-c", f"printf {n}; printf e >&2", encoding="raw")
            host.sidecar.wait_exit(pid)
            frames = _frames_in_the_pipe(host.read_fd)  # at once: the sidecar must have written them already
            assert (pid, STDOUT, 0) in frames and (pid, STDERR, 0) in frames, frames
            assert frames.count((pid, STDOUT, 0)) == frames.count((pid, STDERR, 0)) == 1, frames
    finally:
        host.close()


STDERR_EVERY = 7  # a line on stderr after every 7th block of stdout


def test_64_mib_of_stdout_and_some_stderr_arrive_byte_exact(raw):
    total = 64 * BLOCK
    script = (
        "import os, sys\n"
        f"block = bytes(i % 251 for i in range({BLOCK}))\n"
        f"for n in range({total // BLOCK}):\n"
        "    view = memoryview(block)\n"
        "    while view: view = view[os.write(1, view):]\n"
        f"    if n % {STDERR_EVERY} == 0: os.write(2, b'block %d\\n' % n)\n"
    )
    pid = raw.sidecar.spawn(*python(script), encoding="raw")
    raw.keep = False
    assert raw.sidecar.wait_exit(pid, timeout=60)["code"] == 0
    raw.wait_ended(pid)
    out, err = raw.stream(pid, STDOUT), raw.stream(pid, STDERR)
    assert out.size == total
    assert out.digest.hexdigest() == hashlib.sha256(PATTERN * (total // BLOCK)).hexdigest()
    expected_err = b"".join(b"block %d\n" % n for n in range(0, total // BLOCK, STDERR_EVERY))
    assert err.digest.hexdigest() == hashlib.sha256(expected_err).hexdigest()
    assert [n["method"] for n in raw.sidecar.events(pid)] == ["exit"]


def test_a_pty_child_with_raw_gets_its_output_as_stdout_frames_and_an_empty_stderr(raw):
    pid = raw.sidecar.spawn("sh", "-c", "printf 'on a tty: '; test -t 1 && echo yes; echo oops >&2",
                            encoding="raw", pty={"cols": 80, "rows": 24})
    assert raw.sidecar.wait_exit(pid)["code"] == 0
    raw.wait_ended(pid)
    assert bytes(raw.stream(pid, STDOUT).data) == b"on a tty: yes\r\noops\r\n"
    assert raw.stream(pid, STDERR).size == 0
    assert raw.stream(pid, STDOUT).ends == raw.stream(pid, STDERR).ends == 1
    assert [n["method"] for n in raw.sidecar.events(pid)] == ["exit"]
