"""spawn with pty: real programs on a real pseudo-terminal; resize, list and stats.

Output on a terminal is a terminal's: "\\n" arrives as "\\r\\n" (the line discipline's ONLCR), typed input is
echoed, and both streams come merged as `stdout`.
"""

import base64
import hashlib
import os
import signal
import sys
import time

import psutil
import pytest

from sidecar_client import (
    REPO, Sidecar, descendant_named, eventually, python, read_pidfile, spawned_before_output, wait_gone,
)
from stalled_host import BLOCK, PATTERN, flood_script, stall_then_read_all

PTY = {"cols": 80, "rows": 24}
# A shell whose prompt is known and that reads no start-up file (dash: no line editor, canonical input).
SHELL = {"program": "sh", "args": ["-i"], "env": {"PS1": "$ ", "ENV": None}, "pty": PTY}


def spawn(sidecar, *argv, **options):
    return sidecar.spawn(*argv, pty=options.pop("pty", PTY), **options)


def wait_output(sidecar, pid, text, timeout=10.0):
    try:
        sidecar.wait_for(lambda: text in sidecar.output(pid), timeout, f"{text!r} in the terminal of {pid}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; it shows {sidecar.output(pid)!r}") from None


def wait_for_child_named(pid, name, timeout=10.0):
    """The process called `name` below `pid`, once it runs (what was typed has reached the shell)."""
    return eventually(lambda: descendant_named(pid, name), timeout, f"a {name} below {pid}")


# -- what the child sees ------------------------------------------------------------------------------


def test_the_child_has_a_pts_device_as_its_controlling_terminal_and_leads_its_session(sidecar):
    code = (
        "import os\n"
        "fd = os.open('/dev/tty', os.O_RDWR)\n"  # only a process with a controlling terminal can
        "print(os.ttyname(0), os.isatty(1), os.isatty(2))\n"
        "print('leader', os.getsid(0) == os.getpid(), 'foreground', os.tcgetpgrp(fd) == os.getpgrp())\n"
        "print('size', os.get_terminal_size(fd))\n"
    )
    pid = spawn(sidecar, *python(code), pty={"cols": 132, "rows": 43})
    status = sidecar.wait_exit(pid)
    out = sidecar.output(pid)
    assert status == {"pid": pid, "code": 0, "signal": None}, out
    first, second, third = out.split("\r\n")[:3]
    assert first.startswith("/dev/pts/") and first.endswith(" True True")
    assert second == "leader True foreground True"
    assert third == "size os.terminal_size(columns=132, lines=43)"


def test_tty_reports_a_pts_device_and_both_streams_come_merged_as_stdout(sidecar):
    pid = spawn(sidecar, "sh", "-c", "tty; echo to-stderr >&2; exit 3")
    assert sidecar.wait_exit(pid)["code"] == 3
    out = sidecar.output(pid)
    lines = out.split("\r\n")
    assert lines[0].startswith("/dev/pts/"), out
    assert lines[1] == "to-stderr"
    assert [n["method"] for n in sidecar.events(pid)].count("stderr") == 0


def test_term_defaults_to_xterm_256color_and_the_host_may_set_it(sidecar):
    pid = spawn(sidecar, "sh", "-c", 'echo "[$TERM]"', env={"TERM": None})
    sidecar.wait_exit(pid)
    assert sidecar.output(pid) == "[xterm-256color]\r\n"
    pid = spawn(sidecar, "sh", "-c", 'echo "[$TERM]"', env={"TERM": "vt100"})
    sidecar.wait_exit(pid)
    assert sidecar.output(pid) == "[vt100]\r\n"


def test_stty_size_follows_resize_and_the_child_gets_sigwinch(sidecar):
    shell = sidecar.spawn(**SHELL)
    wait_output(sidecar, shell, "$ ")
    sidecar.request("write", {"pid": shell, "data": "stty size\n"})
    wait_output(sidecar, shell, "24 80\r\n")
    sidecar.request("resize", {"pid": shell, "cols": 120, "rows": 40})
    sidecar.request("write", {"pid": shell, "data": "stty size\n"})
    wait_output(sidecar, shell, "40 120\r\n")  # the echo of what was typed ahead may come first
    sidecar.request("write", {"pid": shell, "data": "exit 0\n"})
    assert sidecar.wait_exit(shell)["code"] == 0

    code = (
        "import os, signal, sys, time\n"
        "def winch(*_):\n"
        "    size = os.get_terminal_size(0)\n"
        "    print(f'winch {size.columns}x{size.lines}', flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGWINCH, winch)\n"
        "print('ready', flush=True)\n"
        "time.sleep(20)\n"
        "sys.exit(9)\n"
    )
    pid = spawn(sidecar, *python(code))
    wait_output(sidecar, pid, "ready")
    sidecar.request("resize", {"pid": pid, "cols": 100, "rows": 30})
    assert sidecar.wait_exit(pid)["code"] == 0
    assert "winch 100x30" in sidecar.output(pid)


def test_resize_of_a_pipe_child_is_not_a_terminal_and_of_an_unknown_pid_is_unknown(sidecar):
    pid = sidecar.spawn("sleep", "10")
    error = sidecar.error("resize", {"pid": pid, "cols": 80, "rows": 24})
    assert error.code == -32012 and error.data == {"pid": pid}
    assert "without pty" in error.message
    sidecar.request("kill", {"pid": pid})
    sidecar.wait_exit(pid)
    assert sidecar.error("resize", {"pid": pid, "cols": 80, "rows": 24}).code == -32003
    assert sidecar.error("resize", {"pid": pid, "cols": 0, "rows": 24}).data["field"] == "params.cols"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"program": "cat", "pty": {"cols": 80}}, "params.pty.rows"),
        ({"program": "cat", "pty": {"cols": 80, "rows": 70000}}, "params.pty.rows"),
        ({"program": "cat", "pty": {"cols": 80, "rows": 24}, "stdin": "null"}, "params.stdin"),
        ({"program": "cat", "pty": True}, "params.pty"),
    ],
)
def test_bad_pty_params_are_invalid_params_naming_the_field(sidecar, params, field):
    error = sidecar.error("spawn", params)
    assert error.code == -32602 and error.data["field"] == field, error.data


def test_stdin_null_with_a_pty_says_why_it_is_refused(sidecar):
    error = sidecar.error("spawn", {"program": "cat", "pty": {"cols": 80, "rows": 24}, "stdin": "null"})
    assert str(error) == 'params.stdin must be "pipe" together with pty, got "null".', str(error)


def test_a_missing_program_or_cwd_on_a_pty_is_spawn_failed_naming_it(sidecar, tmp_path):
    error = sidecar.error("spawn", {"program": "no-such-program-xyz", "pty": PTY})
    assert error.code == -32000 and error.data["code"] == "ENOENT" and "no-such-program-xyz" in error.message
    missing = str(tmp_path / "missing")
    error = sidecar.error("spawn", {"program": "cat", "cwd": missing, "pty": PTY})
    assert error.code == -32000 and error.data["path"] == missing


# -- typing -------------------------------------------------------------------------------------------


def test_an_interactive_python_answers_typed_input_and_exits_on_close_stdin(sidecar):
    pid = spawn(sidecar, sys.executable, "-i", "-q", env={"PYTHONSTARTUP": None})
    wait_output(sidecar, pid, ">>> ")
    sidecar.request("write", {"pid": pid, "data": "print(6 * 7, 'é')\n"})
    wait_output(sidecar, pid, "42 é\r\n")
    # Its next prompt means it waits for a line again: now end of file ends the session.
    sidecar.wait_for(lambda: sidecar.output(pid).count(">>> ") >= 2, 10, "the second prompt")
    sidecar.request("closeStdin", {"pid": pid})
    assert sidecar.wait_exit(pid) == {"pid": pid, "code": 0, "signal": None}


def test_close_stdin_after_a_partly_typed_line_hands_over_the_line_then_end_of_file(sidecar):
    pid = spawn(sidecar, "cat")
    sidecar.request("write", {"pid": pid, "data": "whole\npart"})
    sidecar.request("closeStdin", {"pid": pid})
    assert sidecar.wait_exit(pid) == {"pid": pid, "code": 0, "signal": None}
    # Echo of what was typed, cat's copy of the whole line, then cat's copy of the part (no newline).
    assert sidecar.output(pid) == "whole\r\npartwhole\r\npart"


def test_close_stdin_sends_one_end_of_file_when_the_line_is_empty_so_the_shell_reads_on(sidecar):
    shell = sidecar.spawn(**SHELL)
    wait_output(sidecar, shell, "$ ")
    for typed in ("", "ab\x7f\x7f", "half a line"):
        sidecar.request("write", {"pid": shell, "data": "cat\n"})
        cat = wait_for_child_named(shell, "cat")
        if typed:
            sidecar.request("write", {"pid": shell, "data": typed})
        sidecar.request("closeStdin", {"pid": shell})
        assert wait_gone([cat.pid]) == [], f"cat did not read end of file after {typed!r}"
    # One more end of file than cat needed would have reached the shell, which would have exited.
    sidecar.request("write", {"pid": shell, "data": "echo still-$((2 + 3))\n"})
    wait_output(sidecar, shell, "still-5\r\n")
    assert "half a line" in sidecar.output(shell)
    sidecar.request("closeStdin", {"pid": shell})
    assert sidecar.wait_exit(shell)["code"] == 0


def test_ctrl_c_interrupts_the_foreground_sleep_and_the_shell_goes_on(sidecar):
    shell = sidecar.spawn(**SHELL)
    wait_output(sidecar, shell, "$ ")
    sidecar.request("write", {"pid": shell, "data": "sleep 30\n"})
    sleeper = wait_for_child_named(shell, "sleep")
    started = time.monotonic()
    sidecar.request("write", {"pid": shell, "data": "\x03"})
    assert wait_gone([sleeper.pid], timeout=5) == [], "^C did not reach the foreground job"
    assert time.monotonic() - started < 5
    sidecar.request("write", {"pid": shell, "data": "echo status-$?\n"})
    wait_output(sidecar, shell, "status-130\r\n")  # 128 + SIGINT
    sidecar.request("write", {"pid": shell, "data": "exit 5\n"})
    assert sidecar.wait_exit(shell) == {"pid": shell, "code": 5, "signal": None}


def test_ctrl_c_reaches_a_program_that_was_started_directly(sidecar):
    pid = spawn(sidecar, *python("import time; print('ready', flush=True); time.sleep(30)"))
    wait_output(sidecar, pid, "ready")
    sidecar.request("write", {"pid": pid, "data": "\x03"})
    status = sidecar.wait_exit(pid, timeout=10)
    # Python turns SIGINT into KeyboardInterrupt and, uncaught, ends by SIGINT after the traceback.
    assert status == {"pid": pid, "code": None, "signal": signal.SIGINT}
    assert "KeyboardInterrupt" in sidecar.output(pid)


# -- output -------------------------------------------------------------------------------------------


def test_escape_sequences_pass_through_byte_exact_in_base64(sidecar):
    # A full-screen program's output: clear, home, colours, alternate screen, and bytes that are not UTF-8.
    screen = (
        b"\x1b[?1049h\x1b[2J\x1b[H\x1b[1;31mred\x1b[0m\x1b[10;20H\xe2\x94\x8c\xe2\x94\x80\x1b(0lqk\x1b(B"
        + bytes(range(0x80, 0x100))
        + b"\x07\x1b]0;title\x07\x1b[?1049l"
    )
    code = f"import sys; sys.stdout.buffer.write({screen!r}); sys.stdout.flush()"
    pid = spawn(sidecar, *python(code), encoding="base64")
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output_bytes(pid) == screen


def test_tput_writes_the_same_bytes_on_the_terminal_as_into_a_pipe(sidecar):
    env = {"TERM": "xterm-256color"}
    piped = sidecar.request("execute", {"command": "tput clear", "env": env, "encoding": "base64"})
    assert piped["code"] == 0 and piped["stdout"], piped
    pid = spawn(sidecar, "tput", "clear", env=env, encoding="base64")
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output_bytes(pid) == base64.b64decode(piped["stdout"])
    assert b"\x1b[2J" in sidecar.output_bytes(pid)


def test_utf8_split_across_reads_is_never_split_across_notifications(sidecar):
    code = (
        "import sys, time\n"
        "for b in 'é€😀'.encode():\n"
        "    sys.stdout.buffer.write(bytes([b])); sys.stdout.flush(); time.sleep(0.02)\n"
        "sys.stdout.buffer.write(b'a\\xffb'); sys.stdout.flush()\n"
    )
    pid = spawn(sidecar, *python(code))
    assert sidecar.wait_exit(pid)["code"] == 0
    assert sidecar.output(pid) == "é€😀a\ufffdb"


@pytest.mark.parametrize("round_", range(5))
def test_a_mebibyte_written_just_before_exit_all_arrives_before_exit(sidecar, round_):
    # No newline in it, so the terminal passes it unchanged; the child exits the moment its write returns.
    size = 1024 * 1024
    code = (
        f"import os\n"
        f"data = (bytes(range(11, 256)) * ({size} // 245 + 1))[:{size}]\n"
        f"view = memoryview(data)\n"
        f"while view: view = view[os.write(1, view):]\n"
        f"os._exit(0)\n"
    )
    pid = spawn(sidecar, *python(code), encoding="base64")
    status = sidecar.wait_exit(pid)
    assert status["code"] == 0
    out = sidecar.output_bytes(pid)
    assert len(out) == size and out == (bytes(range(11, 256)) * (size // 245 + 1))[:size]
    methods = [n["method"] for n in sidecar.events(pid)]
    assert methods.count("exit") == 1 and methods[-1] == "exit"


def test_what_piled_up_in_the_terminal_comes_as_one_notification(sidecar, tmp_path):
    # A terminal hands over at most 4 KiB per read. While the sidecar is stopped (SIGSTOP), the child writes 8 KiB
    # into the terminal (Linux holds about 10 KiB there before a write blocks); once the sidecar runs again, one
    # wake-up must read it all into one notification, not one per read. Stopping the sidecar makes this
    # independent of how fast either side runs.
    size = 8 * 1024
    go, written = tmp_path / "go", tmp_path / "written"
    code = (
        f"import os, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
        f"os.write(1, b'q' * {size})\n"
        f"open({str(written)!r}, 'w').close()\n"
        f"time.sleep(30)\n"
    )
    pid = spawn(sidecar, *python(code))
    os.kill(sidecar.proc.pid, signal.SIGSTOP)
    try:
        go.touch()
        eventually(written.exists, 10, "the child's write")
    finally:
        os.kill(sidecar.proc.pid, signal.SIGCONT)
    wait_output(sidecar, pid, "q" * size)
    chunks = [n["params"]["data"] for n in sidecar.events(pid) if n["method"] == "stdout"]
    assert chunks == ["q" * size], [len(chunk) for chunk in chunks]
    sidecar.request("kill", {"pid": pid})
    assert sidecar.wait_exit(pid)["signal"] == signal.SIGTERM


@pytest.mark.parametrize("leave_a_holder", [False, True])
def test_what_an_exited_child_left_in_the_terminal_arrives_before_exit(leave_a_holder):
    # Inside a batch the spawn response waits for the batch's execute, and the terminal is not read until
    # it is out: the child writes into the terminal's buffer and exits while nobody reads. Its bytes must
    # still all come, then the exit (with a holder left, the master never reads EIO; without, it does).
    size = 8000
    holder = "import subprocess; subprocess.Popen(['sleep', '5'], start_new_session=True)\n" if leave_a_holder else ""
    code = holder + f"import os\nos.write(1, b'q' * {size})\nos._exit(0)\n"
    sidecar = Sidecar()
    try:
        sidecar.send([
            {"jsonrpc": "2.0", "id": 1, "method": "spawn", "params": {"program": sys.executable, "args": ["-c", code], "pty": PTY}},
            {"jsonrpc": "2.0", "id": 2, "method": "execute", "params": {"program": "sleep", "args": ["0.5"]}},
        ])
        first = sidecar.next_message()
        assert isinstance(first, list), f"output came before the batch answer: {first}"
        pid = next(a["result"]["pid"] for a in first if a["id"] == 1)
        assert sidecar.wait_exit(pid)["code"] == 0
        assert sidecar.output(pid) == "q" * size
        assert sidecar.close() == 0
    finally:
        sidecar.kill()


def test_exit_is_not_held_by_a_background_process_that_keeps_the_terminal(sidecar, tmp_path):
    # As when a terminal window's shell exits: the exit is reported once the child's own output is all
    # read, even though a process it left behind still has the terminal open.
    pidfile = tmp_path / "pids"
    code = (
        "import os, subprocess, sys\n"
        "left = subprocess.Popen(['sleep', '30'], start_new_session=True)\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{left.pid}}\\n')\n"
        "sys.stdout.buffer.write(b'z' * 50000); sys.stdout.flush()\n"
    )
    started = time.monotonic()
    pid = spawn(sidecar, *python(code))
    [left] = read_pidfile(pidfile)
    status = sidecar.wait_exit(pid, timeout=10)
    assert time.monotonic() - started < 10
    assert status["code"] == 0 and sidecar.output(pid) == "z" * 50000
    assert psutil.pid_exists(left), "the leftover keeps running, as after a terminal closes"
    assert sidecar.close() == 0
    assert wait_gone([left]) == [], "the session end stops what the terminal left behind"


def test_spawn_response_precedes_the_output_of_an_instant_writer(sidecar):
    ids = [sidecar.start_request("spawn", {"program": "echo", "args": [str(i)], "pty": PTY}) for i in range(10)]
    answered = spawned_before_output(sidecar, ids)
    assert sorted(sidecar.output(p) for p in answered) == sorted(f"{i}\r\n" for i in range(10))


def test_a_stalled_host_stops_the_terminal_being_read_then_gets_every_byte():
    """The host reads nothing for a while: the sidecar stops reading the terminal (the child blocks on
    it) instead of buffering, then delivers every byte in order."""
    total = 64 * 1024 * 1024
    expected = hashlib.sha256()
    for _ in range(total // BLOCK):
        expected.update(PATTERN.replace(b"\n", b"\r\n"))  # the terminal's ONLCR
    params = {"program": sys.executable, "args": ["-c", flood_script(total)], "pty": PTY}
    # Unthrottled, the whole output (64 MiB, more as base64) would be in the sidecar by the end of the stall.
    received, digest = stall_then_read_all(params, stall_s=2.0, growth_cap=16 * 1024 * 1024, rss_cap=60 * 1024 * 1024)
    assert digest == expected.hexdigest(), f"the bytes arrived changed or out of order ({received})"


# -- signals and the tree ----------------------------------------------------------------------------


def test_kill_stops_the_whole_tree_of_a_terminal_child(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    shell = sidecar.spawn(**SHELL)
    wait_output(sidecar, shell, "$ ")
    # Job control puts each background job in a process group of its own, away from the shell's.
    sidecar.request("write", {"pid": shell, "data": f"sleep 60 & a=$!; sleep 61 & echo $a $! $$ > {pidfile}\n"})
    *sleepers, shell_pid = read_pidfile(pidfile)
    assert shell_pid == shell
    assert {os.getpgid(p) for p in sleepers}.isdisjoint({shell}), "the jobs should have groups of their own"
    sidecar.request("kill", {"pid": shell, "signal": "SIGKILL"})
    assert sidecar.wait_exit(shell)["signal"] == signal.SIGKILL
    assert wait_gone(sleepers) == []


# -- list and stats -------------------------------------------------------------------------------------


def test_list_shows_spawned_children_with_their_launch_and_pty_size(sidecar, tmp_path):
    before = time.time() * 1000
    piped = sidecar.spawn("sleep", "30", cwd=str(tmp_path))
    terminal = spawn(sidecar, "sleep", "31", pty={"cols": 90, "rows": 20})
    executed = sidecar.start_request("execute", {"program": "sleep", "args": ["5"]})
    sidecar.request("resize", {"pid": terminal, "cols": 91, "rows": 21})
    children = sidecar.request("list", {})["children"]
    assert [c["pid"] for c in children] == [piped, terminal], "execute's children are not listed"
    first, second = children
    assert first == {"pid": piped, "program": "sleep", "args": ["30"], "cwd": str(tmp_path),
                     "startedAt": first["startedAt"], "pty": None}
    assert second["pty"] == {"cols": 91, "rows": 21} and second["cwd"] == os.getcwd() == str(REPO)
    assert before - 1000 <= first["startedAt"] <= second["startedAt"] <= time.time() * 1000 + 1000
    sidecar.request("kill", {"pid": piped})
    sidecar.wait_exit(piped)
    assert [c["pid"] for c in sidecar.request("list", {})["children"]] == [terminal]
    sidecar.notify("$/cancelRequest", {"id": executed})
    sidecar.request("kill", {"pid": terminal})
    sidecar.wait_exit(terminal)
    assert sidecar.request("list", {}) == {"children": []}


def test_stats_counts_descendants_cpu_and_memory_of_the_tree(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    # Burn about 0.4 s of CPU in a grandchild that holds 64 MiB, then sit there with a sibling.
    burner = "import time; m = bytearray(64 << 20); t = time.process_time(); exec('while time.process_time() - t < 0.4: pass'); print('burnt', flush=True); time.sleep(30)"
    script = f"{sys.executable} -c \"{burner}\" & sleep 30 & echo $$ > {pidfile}; wait"
    pid = sidecar.spawn("sh", "-c", script)
    read_pidfile(pidfile)
    sidecar.wait_for(lambda: "burnt" in sidecar.output(pid), 20, "the burner")
    stats = sidecar.request("stats", {"pid": pid})
    assert stats["pid"] == pid
    assert stats["descendants"] == 2
    assert stats["cpu"]["userMs"] + stats["cpu"]["systemMs"] >= 350, stats
    assert stats["rssBytes"] >= 64 << 20, stats
    sidecar.request("kill", {"pid": pid})
    sidecar.wait_exit(pid)
    assert sidecar.error("stats", {"pid": pid}).code == -32003


def test_stats_of_a_terminal_child_counts_its_shell_jobs(sidecar):
    shell = sidecar.spawn(**SHELL)
    wait_output(sidecar, shell, "$ ")
    sidecar.request("write", {"pid": shell, "data": "sleep 30 &\n"})
    wait_for_child_named(shell, "sleep")
    assert sidecar.request("stats", {"pid": shell})["descendants"] == 1
    sidecar.request("kill", {"pid": shell, "signal": "SIGKILL"})
    sidecar.wait_exit(shell)


def test_initialize_advertises_terminals_and_introspection(sidecar):
    capabilities = sidecar.request("initialize", {})["capabilities"]
    assert capabilities["pty"] is True and capabilities["resize"] is True
    assert capabilities["list"] is True and capabilities["stats"] is True
