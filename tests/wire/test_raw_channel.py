"""The raw channel (PROTOCOL.md, Raw channel): negotiation, frames, end frames, and raw spawns."""

from __future__ import annotations

import hashlib
import os
import sys
import time

import psutil
import pytest

from raw_host import HEADER, STDERR, STDOUT, RawHost
from sidecar_client import TREE, Sidecar, python, read_pidfile, start_trees, wait_gone
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


def _pipe_id(fd: int) -> str:
    return f"pipe:[{os.fstat(fd).st_ino}]"


def _links(pid: int) -> dict[int, str]:
    """fd -> what it is ("pipe:[123]"), for the descriptors of `pid` that stay open while we look."""
    folder = f"/proc/{pid}/fd"
    links = {}
    for name in os.listdir(folder):
        try:
            links[int(name)] = os.readlink(f"{folder}/{name}")
        except FileNotFoundError:  # closed meanwhile
            pass
    return links


def _holds(pid: int, link: str) -> bool:
    return link in _links(pid).values()


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


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc")
def test_a_descriptor_of_the_sidecars_own_is_refused(sidecar):
    # The sidecar's copy of its stdout is a writable pipe above 2 that the host never passed: taking it
    # would send frames into the protocol stream.
    sidecar.request("list")  # the sidecar is up: it has made its copy
    link = _pipe_id(sidecar.proc.stdout.fileno())
    [own] = [fd for fd, target in _links(sidecar.proc.pid).items() if fd > 2 and target == link]
    assert _initialize(sidecar, own) is False
    assert sidecar.request("list") == {"children": []}, "stdout still carries the protocol"
    sidecar.wait_for(lambda: _warnings(sidecar), what="the warning")
    assert f"descriptor {own} was not open when the sidecar started" in _warnings(sidecar)[0]


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


def _pattern(seed: int, size: int) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


def test_fifty_concurrent_raw_children_lose_nothing(raw):
    size = 256 * 1024
    script = (
        "import os, sys\n"
        "seed = int(sys.argv[1])\n"
        f"data = bytes((i * 7 + seed) % 251 for i in range({size}))\n"
        "for start in range(0, len(data), 4096):\n"
        "    os.write(1, data[start:start + 4096])\n"
        "    if start % 65536 == 0: os.write(2, b'%d at %d\\n' % (seed, start))\n"
    )
    ids = [raw.sidecar.start_request("spawn", {"program": sys.executable, "args": ["-c", script, str(n)],
                                               "encoding": "raw", "stdin": "null"}) for n in range(50)]
    pids = [raw.sidecar.result(request_id)["pid"] for request_id in ids]
    for n, pid in enumerate(pids):
        assert raw.sidecar.wait_exit(pid, timeout=60)["code"] == 0
        raw.wait_ended(pid)
        assert bytes(raw.stream(pid, STDOUT).data) == _pattern(n, size), f"child {n}"
        assert bytes(raw.stream(pid, STDERR).data) == b"".join(b"%d at %d\n" % (n, s) for s in range(0, size, 65536))
        assert raw.stream(pid, STDOUT).ends == raw.stream(pid, STDERR).ends == 1
    assert {n["method"] for n in raw.sidecar.notifications} == {"exit"}


# -- backpressure and the end of the session -----------------------------------------------------------


def test_a_stalled_channel_keeps_memory_flat_and_then_every_byte_arrives():
    total = 256 * BLOCK
    host = RawHost(keep=False, read=False)
    try:
        pid = host.sidecar.spawn(sys.executable, "-c", flood_script(total), encoding="raw", stdin="null")
        sidecar = psutil.Process(host.sidecar.proc.pid)
        time.sleep(1.0)
        samples = []
        for _ in range(6):
            samples.append(sidecar.memory_info().rss)
            time.sleep(0.5)
        assert max(samples) - samples[0] < 16 * 1024 * 1024, f"RSS grew while the host stalled: {samples}"
        assert max(samples) < 100 * 1024 * 1024, samples
        assert host.sidecar.events(pid) == [], "the child finished although nobody read its output"
        host.start_reading()
        assert host.sidecar.wait_exit(pid, timeout=60)["code"] == 0
        host.wait_ended(pid, timeout=60)
        out = host.stream(pid, STDOUT)
        assert out.size == total
        assert out.digest.hexdigest() == hashlib.sha256(PATTERN * (total // BLOCK)).hexdigest()
    finally:
        host.close()


def test_the_host_closing_the_channel_ends_the_session_and_leaves_no_process(tmp_path):
    host = RawHost(read=False)
    try:
        raw_tree = tmp_path / "raw"
        host.sidecar.spawn("sh", "-c", TREE.format(pidfile=raw_tree), encoding="raw")
        pids = read_pidfile(raw_tree) + start_trees(host.sidecar, tmp_path, 1)
        guardian = [c.pid for c in psutil.Process(host.sidecar.proc.pid).children() if c.pid not in pids]
        os.close(host.read_fd)
        assert host.sidecar.proc.wait(timeout=15) == 0
        assert wait_gone(pids + guardian) == []
    finally:
        host.close()


def test_the_session_end_drains_the_channel_first():
    size = 300 * 1024  # past the pipe's 64 KiB, short of high water: the rest waits in the sidecar's buffer
    host = RawHost(read=False)
    try:
        pid = host.sidecar.spawn(sys.executable, "-c", f"import os; os.write(1, bytes(range(256)) * {size // 256})",
                                 encoding="raw")
        host.sidecar.wait_exit(pid)
        host.sidecar.proc.stdin.close()  # end of file: the session ends, with frames still unwritten
        time.sleep(1.0)
        host.start_reading()
        assert host.wait_eof()
        assert host.sidecar.proc.wait(timeout=15) == 0
        assert bytes(host.stream(pid, STDOUT).data) == bytes(range(256)) * (size // 256)
        assert host.stream(pid, STDOUT).ends == host.stream(pid, STDERR).ends == 1
    finally:
        host.close()


# -- nobody else holds the channel ---------------------------------------------------------------------


O_CLOEXEC_FLAG = 0o2000000  # as /proc/<pid>/fdinfo shows it (Linux)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fdinfo"), reason="Linux /proc")
def test_the_channel_is_close_on_exec_and_children_do_not_inherit_it(raw):
    flags = open(f"/proc/{raw.sidecar.proc.pid}/fdinfo/{raw.fd}").read().split("flags:")[1].split()[0]
    assert int(flags, 8) & O_CLOEXEC_FLAG, "a child started by any means would inherit the channel"
    probe = f"import os\ntry:\n    os.fstat({raw.fd}); print('inherited')\nexcept OSError: print('not inherited')"
    _, out, _ = raw.sidecar.run(sys.executable, "-c", probe)
    assert out == "not inherited\n"
    pid = raw.sidecar.spawn(sys.executable, "-c", probe, encoding="raw", pty={"cols": 80, "rows": 24})
    raw.sidecar.wait_exit(pid)
    raw.wait_ended(pid)
    assert bytes(raw.stream(pid, STDOUT).data) == b"not inherited\r\n"
    result = raw.sidecar.request("execute", {"program": sys.executable, "args": ["-c", probe]})
    assert result["stdout"] == "not inherited\n"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc")
def test_the_guardian_does_not_hold_the_channel():
    # The guardian is forked before initialize, with every descriptor the host passed: it must close them,
    # or the host would see no end of file on the channel when the sidecar dies.
    host = RawHost()
    try:
        link = _pipe_id(host.read_fd)
        assert _holds(host.sidecar.proc.pid, link)
        [guardian] = psutil.Process(host.sidecar.proc.pid).children()
        assert not _holds(guardian.pid, link)
        pid = host.sidecar.spawn("sleep", "300", encoding="raw")
        host.sidecar.proc.kill()  # SIGKILL: no code of the sidecar runs
        assert host.wait_eof(timeout=10), "something still holds the channel's write end"
        assert wait_gone([pid, guardian.pid]) == []
    finally:
        host.close()
