"""How a session ends: whatever ends it, every child tree is stopped and the sidecar exits 0."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sidecar_client import REPO, TREE, Sidecar, python, read_pidfile, start_trees, wait_gone



def test_end_of_file_on_stdin_stops_every_tree_then_exits_0(tmp_path):
    sidecar = Sidecar()
    try:
        pids = start_trees(sidecar, tmp_path, 3)
        assert sidecar.close() == 0
        assert wait_gone(pids) == []
    finally:
        sidecar.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_sidecar_stops_every_tree_then_exits_0(tmp_path, signum):
    sidecar = Sidecar()
    try:
        pids = start_trees(sidecar, tmp_path, 3)
        sidecar.proc.send_signal(signum)
        assert sidecar.proc.wait(15) == 0
        assert wait_gone(pids) == []
    finally:
        sidecar.kill()


def test_two_thousand_children_ending_at_once_crowd_out_no_sigterm(tmp_path):
    """A burst of SIGCHLD (two thousand children ending together) must not crowd out the SIGTERM that
    comes in the middle of it. asyncio's own signal dispatch (add_signal_handler) dropped signals once its
    wakeup socket was full, with a traceback on stderr for each: here the SIGTERM was lost in most runs
    and the sidecar kept running."""
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    count = 2000
    sidecar = Sidecar()
    try:
        pids = [sidecar.spawn("cat", str(fifo)) for _ in range(count)]
        gate = os.open(fifo, os.O_WRONLY)  # every cat is waiting in open(): now they all read end of file
        os.close(gate)
        time.sleep(0.05)  # into the burst
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(15) == 0
        assert wait_gone(pids) == []
        exits = lambda: sum(1 for m in sidecar.notifications if m["method"] == "exit")  # noqa: E731
        sidecar.wait_for(lambda: exits() == count, what=f"{count} exit notifications (every exit is reported)")
        noise = [line for line in sidecar.all_stderr() if "wakeup fd" in line or "Traceback" in line]
        assert noise == [], noise[:4]
    finally:
        sidecar.kill()


def test_sigterm_with_two_thousand_live_children_stops_them_all(tmp_path):
    """Stopping many trees walks the process table once, not once per tree: per tree, two thousand walks
    of two thousand processes kept the event loop busy for most of a minute before the first exit."""
    count = 2000
    sidecar = Sidecar()
    try:
        pids = [sidecar.spawn("sleep", "300") for _ in range(count)]
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(15) == 0
        assert wait_gone(pids) == []
        def exits() -> list[dict]:
            return [m["params"] for m in sidecar.notifications if m["method"] == "exit"]

        sidecar.wait_for(lambda: len(exits()) == count, what="every exit")
        assert all(e["signal"] == signal.SIGTERM for e in exits()), "each child was stopped by the SIGTERM"
    finally:
        sidecar.kill()


def test_a_host_that_never_reads_stderr_does_not_stop_the_sidecar():
    """Debug logging of 5000 ignored notifications is ~400 KiB on stderr, which nobody reads: the sidecar
    drops what does not fit (and says how much once it fits again) instead of blocking in write()."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "--log-level", "debug"], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        noise = b'{"jsonrpc":"2.0","method":"no/such/notification","params":{}}\n' * 5000

        def write() -> None:  # on a thread: a blocked sidecar stops reading its stdin too
            proc.stdin.write(noise + b'{"jsonrpc":"2.0","id":1,"method":"initialize"}\n')
            proc.stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answer: list[bytes] = []
        reader = threading.Thread(target=lambda: answer.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(15)
        assert answer and json.loads(answer[0])["id"] == 1, "the request after the noise was never answered"
        writer.join(5)
        stderr = b""
        while b"dropped" not in stderr:  # now read stderr: the count of dropped lines comes once one fits
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, "stderr ended without the count of dropped lines"
            stderr += chunk
            if b"dropped" not in stderr:
                proc.stdin.write(b'{"jsonrpc":"2.0","method":"no/such/notification"}\n')  # one more line to log
                proc.stdin.flush()
        assert re.search(rb"\d+ log line\(s\) dropped: stderr was full", stderr)
        proc.stdin.close()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_shutdown_answers_after_every_exit_then_the_sidecar_exits(tmp_path):
    sidecar = Sidecar()
    try:
        pids = start_trees(sidecar, tmp_path, 2)
        request_id = sidecar.start_request("shutdown", {})
        messages = []
        while True:
            message = sidecar.next_message()
            messages.append(message)
            if message.get("id") == request_id:
                break
        exits = [m for m in messages if m.get("method") == "exit"]
        assert len(exits) == 2, "every exit is reported before the shutdown answer"
        assert messages[-1]["result"] is None
        assert sidecar.proc.wait(10) == 0
        assert wait_gone(pids) == []
    finally:
        sidecar.kill()


def test_spawn_during_shutdown_is_refused(tmp_path):
    sidecar = Sidecar()
    try:
        # The child outlives the SIGTERM of the shutdown (so the shutdown lasts), and says it got it.
        code = (
            "import signal, time\n"
            "signal.signal(signal.SIGTERM, lambda *_: print('terminated', flush=True))\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)"
        )
        pid = sidecar.spawn(*python(code))
        sidecar.wait_for(lambda: sidecar.output(pid) == "ready\n", what="ready")
        shutdown = sidecar.start_request("shutdown", {})
        sidecar.wait_for(lambda: sidecar.output(pid) == "ready\nterminated\n", what="the shutdown's SIGTERM")
        error = sidecar.error("spawn", {"program": "true"})
        assert error.code == -32011
        assert sidecar.result(shutdown) is None
        assert sidecar.wait_exit(pid)["signal"] == signal.SIGKILL
    finally:
        sidecar.kill()


def test_a_child_that_ignores_sigterm_is_killed_when_the_host_goes_away(tmp_path):
    sidecar = Sidecar()
    try:
        pidfile = tmp_path / "pid"
        code = (
            "import os, signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            f"open({str(pidfile)!r}, 'w').write(f'{{os.getpid()}}\\n')\n"
            "time.sleep(60)"
        )
        sidecar.spawn(*python(code))
        pids = read_pidfile(pidfile)
        started = time.monotonic()
        assert sidecar.close() == 0
        assert wait_gone(pids) == []
        assert time.monotonic() - started < 10
    finally:
        sidecar.kill()


def test_host_closing_the_sidecars_stdout_ends_the_session(tmp_path):
    # A bare Popen: the host reads nothing and closes its end of the sidecar's stdout.
    pidfile = tmp_path / "tree"
    proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "spawn",
                   "params": {"program": "sh", "args": ["-c", TREE.format(pidfile=pidfile)]}}
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        pids = read_pidfile(pidfile)
        proc.stdout.close()
        # The sidecar notices when it next writes: the child's exit notification, or this answer.
        proc.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"initialize"}\n')
        proc.stdin.flush()
        assert proc.wait(15) == 0
        assert wait_gone(pids) == []
    finally:
        proc.kill()
        proc.wait()


def test_stdout_carries_protocol_lines_only_and_logs_go_to_stderr():
    sidecar = Sidecar("--log-level", "debug")
    try:
        sidecar.request("execute", {"program": "true"})
        assert sidecar.close() == 0
        assert any("process-sidecar" in line for line in sidecar.stderr_lines)
    finally:
        sidecar.kill()


@pytest.mark.parametrize("kind", ["/dev/null", "a regular file"], ids=["dev-null", "regular-file"])
def test_stdin_that_cannot_be_polled_still_ends_the_session(tmp_path, kind):
    """/dev/null and a regular file cannot be watched with epoll; the sidecar reads them on a thread."""
    path, is_kind = Path(os.devnull), stat.S_ISCHR
    if kind == "a regular file":
        path, is_kind = tmp_path / "requests.jsonl", stat.S_ISREG
        path.write_bytes(b'{"jsonrpc":"2.0","id":1,"method":"initialize"}\n')
    with path.open("rb") as stdin:
        assert is_kind(os.fstat(stdin.fileno()).st_mode), f"the sidecar's stdin must be {kind}"
        run = subprocess.run([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=stdin, capture_output=True, timeout=30)
    assert run.returncode == 0


def test_stdin_and_stdout_on_sockets_as_node_gives_them():
    """Node (libuv) gives a child a socket of its own, not a pipe, for each of stdin and stdout: requests read
    from one are answered on the other, and the host shutting down its writing side ends the session."""
    requests, their_stdin = socket.socketpair()
    answers, their_stdout = socket.socketpair()
    with requests, answers:
        with their_stdin, their_stdout:
            proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=their_stdin, stdout=their_stdout)
        try:
            request = {"jsonrpc": "2.0", "id": 1, "method": "execute",
                       # Longer than a small read: the line arrives in several reads.
                       "params": {"program": "echo", "args": ["socket"], "env": {"PADDING": "x" * (100 * 1024)}}}
            requests.sendall(json.dumps(request).encode() + b"\n")
            requests.shutdown(socket.SHUT_WR)
            received = b""
            answers.settimeout(30)
            while chunk := answers.recv(65536):
                received += chunk
            assert proc.wait(30) == 0
        finally:
            proc.kill()
            proc.wait()
    answer = json.loads(received)
    assert answer.get("result", {}).get("stdout") == "socket\n", answer


def test_stdin_on_a_terminal_is_read_and_its_end_of_file_ends_the_session():
    """Run by hand in a terminal: the lines typed are requests, and ^D (end of file on a terminal) ends it."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        os.close(slave)
        try:
            request = {"jsonrpc": "2.0", "id": 1, "method": "execute", "params": {"program": "echo", "args": ["typed"]}}
            os.write(master, json.dumps(request).encode() + b"\n")
            assert json.loads(proc.stdout.readline())["result"]["stdout"] == "typed\n"
            os.write(master, b"\x04")
            assert proc.wait(15) == 0
        finally:
            proc.kill()
            proc.wait()
    finally:
        os.close(master)


def test_requests_from_a_regular_file_are_answered(tmp_path):
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"jsonrpc":"2.0","id":1,"method":"execute","params":{"program":"echo","args":["filed"]}}\n')
    with requests.open("rb") as stdin:
        run = subprocess.run([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=stdin, capture_output=True, timeout=30)
    assert run.returncode == 0
    assert json.loads(run.stdout)["result"]["stdout"] == "filed\n"
