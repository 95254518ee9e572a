"""Lifecycle under stress and faults: no orphans whatever happens, bounded memory, no leaks, limits."""

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sidecar_client import REPO, Sidecar, eventually, python, read_pidfile, wait_gone
from stalled_host import BLOCK, PATTERN, flood_script, stall_then_read_all

STRAY = (
    "import subprocess, sys, time\n"
    "p = subprocess.Popen(['sleep', '60'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
    "open(sys.argv[1], 'w').write(f'{p.pid}\\n')\n"
    "time.sleep(60)"
)


def _zombie_children(pid):
    return [c.pid for c in psutil.Process(pid).children() if c.status() == psutil.STATUS_ZOMBIE]


def _adopted_orphan(sidecar):
    """The pid of a `sleep 60` whose parent (a shell) has exited, once the sidecar has adopted it."""
    _, out, _ = sidecar.run("sh", "-c", "sleep 60 > /dev/null 2>&1 & echo $!", stdin="null")
    orphan = int(out)
    assert psutil.Process(orphan).ppid() == sidecar.proc.pid, "the sidecar, as subreaper, should have adopted it"
    return orphan


def _wait_for_a_sweep(sidecar):
    """Until the sidecar has swept its descendants (orphans.OrphanWatch: strays reported to the guardian,
    adopted orphans reaped) once from start to end since this call. Only a sweep reaps an adopted orphan,
    and a sweep runs to its end before the sidecar reads the next request."""
    orphan = _adopted_orphan(sidecar)
    os.kill(orphan, signal.SIGKILL)
    eventually(lambda: not psutil.pid_exists(orphan), what=f"a sweep to reap the adopted orphan {orphan}")
    sidecar.request("initialize")


def test_sigkill_of_the_sidecar_still_kills_every_tree(tmp_path):
    """The guardian kills the process groups (and reported strays) when the sidecar dies without a word."""
    sidecar = Sidecar()
    try:
        pids = []
        for n in range(3):
            pidfile = tmp_path / f"tree{n}"
            sidecar.spawn("sh", "-c", f"sleep 60 & a=$!; sleep 60 & echo $$ $a $! > {pidfile}; wait")
            pids += read_pidfile(pidfile)
        strayfile = tmp_path / "stray"
        sidecar.spawn(*python(STRAY), str(strayfile))
        pids += read_pidfile(strayfile)
        _wait_for_a_sweep(sidecar)  # the stray is reported to the guardian
        sidecar.proc.kill()
        sidecar.proc.wait(5)
        assert wait_gone(pids, timeout=5) == []
    finally:
        sidecar.kill()


def test_a_daemonized_descendant_is_adopted_and_stopped_at_session_end(tmp_path):
    """A double fork (the parent exits, the grandchild calls setsid) escapes every process group; the
    sidecar, as subreaper, adopts it and stops it when the session ends."""
    pidfile = tmp_path / "daemon"
    daemonize = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    null = os.open(os.devnull, os.O_RDWR)\n"
        "    for fd in (0, 1, 2): os.dup2(null, fd)\n"
        "    open(sys.argv[1], 'w').write(f'{os.getpid()}\\n')\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
    )
    sidecar = Sidecar()
    try:
        status, _, _ = sidecar.run(*python(daemonize), str(pidfile), stdin="null")
        assert status["code"] == 0
        [daemon] = read_pidfile(pidfile)
        assert psutil.Process(daemon).ppid() == sidecar.proc.pid, "the sidecar should have adopted it"
        assert sidecar.close() == 0
        assert wait_gone([daemon]) == []
    finally:
        sidecar.kill()


def test_adopted_orphans_are_reaped_not_left_as_zombies(sidecar):
    # Each shell exits at once, leaving a sleep that the sidecar adopts (checked: its parent is the
    # sidecar, not init); when those sleeps end, the sidecar must reap them.
    orphans = [_adopted_orphan(sidecar) for _ in range(10)]
    for orphan in orphans:
        os.kill(orphan, signal.SIGTERM)
    reaped = lambda: not any(psutil.pid_exists(orphan) for orphan in orphans)  # noqa: E731
    eventually(reaped, 5, "the sidecar to reap the orphans it adopted")
    assert _zombie_children(sidecar.proc.pid) == []


def test_orphans_adopted_after_every_child_ended_are_reaped_too(sidecar, tmp_path):
    """Adopted in a chain, with no child of the sidecar left running: a shell leaves a second shell behind,
    which is adopted, and when that one exits later its own sleep is adopted in turn. No SIGCHLD tells the
    sidecar (orphans.py does without it): watching what it adopted must, and no zombie may pile up."""
    pidfile = tmp_path / "grandchild"
    status, _, _ = sidecar.run(
        "sh", "-c", f"sh -c 'sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}; sleep 0.5' > /dev/null 2>&1 &",
        stdin="null",
    )
    assert status["code"] == 0
    [sleeper] = read_pidfile(pidfile)
    eventually(lambda: psutil.Process(sleeper).ppid() == sidecar.proc.pid, 10, "the sidecar to adopt the sleep")
    os.kill(sleeper, signal.SIGTERM)
    eventually(lambda: not psutil.pid_exists(sleeper), 10, "the sidecar to reap the sleep it adopted last")
    eventually(lambda: _zombie_children(sidecar.proc.pid) == [], 10, "no zombie children")


def test_the_sidecar_ends_when_its_parent_dies_even_if_stdin_stays_open(tmp_path):
    """As under a PyInstaller one-file bootloader that is SIGKILLed: the pipe to the sidecar lives on in
    the host, but the sidecar's parent is gone."""
    pidfile = tmp_path / "tree"
    read_end, write_end = os.pipe()
    middle = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.Popen([sys.executable, '-m', 'sidecar']).wait()"],
        cwd=REPO, stdin=read_end, stdout=subprocess.DEVNULL,
    )
    os.close(read_end)
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "spawn",
                   "params": {"program": "sh", "args": ["-c", f"sleep 60 & echo $$ $! > {pidfile}; wait"]}}
        os.write(write_end, json.dumps(request).encode() + b"\n")
        tree = read_pidfile(pidfile)
        [sidecar_pid] = [c.pid for c in psutil.Process(middle.pid).children()]
        middle.kill()
        middle.wait()
        assert wait_gone([sidecar_pid, *tree], timeout=10) == []
    finally:
        os.close(write_end)
        middle.kill()


def test_a_stalled_host_keeps_memory_flat_and_then_gets_every_byte():
    """512 MiB from a child while the host reads nothing for a while: the sidecar must stop reading the
    child's pipe instead of buffering, then deliver every byte in order."""
    total = 512 * 1024 * 1024
    expected = hashlib.sha256()
    for _ in range(total // BLOCK):
        expected.update(PATTERN)
    params = {"program": sys.executable, "args": ["-c", flood_script(total)]}
    received, digest = stall_then_read_all(params, stall_s=3.0, growth_cap=16 * 1024 * 1024, rss_cap=100 * 1024 * 1024)
    assert received == total
    assert digest == expected.hexdigest(), "the bytes arrived changed or out of order"


def test_two_hundred_chatty_children_lose_nothing(sidecar):
    lines = 500
    code = "import sys\nfor i in range(%d): print(f'{sys.argv[1]}:{i}:' + 'x' * 80)" % lines
    pids = [sidecar.spawn(*python(code), str(n), stdin="null") for n in range(200)]
    for n, pid in enumerate(pids):
        assert sidecar.wait_exit(pid, timeout=60)["code"] == 0
        assert sidecar.output(pid) == "".join(f"{n}:{i}:" + "x" * 80 + "\n" for i in range(lines))


def _fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_no_fd_or_zombie_growth_after_a_thousand_spawns(sidecar):
    sidecar.run("true")
    baseline = _fd_count(sidecar.proc.pid)
    for batch in range(10):
        ids = [sidecar.start_request("spawn", {"program": "true", "stdin": "null" if i % 2 else "pipe"}) for i in range(100)]
        pids = [sidecar.result(request_id)["pid"] for request_id in ids]
        for pid in pids:
            sidecar.wait_exit(pid, timeout=30)
    time.sleep(0.5)
    assert _fd_count(sidecar.proc.pid) <= baseline
    assert _zombie_children(sidecar.proc.pid) == []
    assert len(psutil.Process(sidecar.proc.pid).threads()) <= 2, "no thread per child"


def test_a_thousand_live_children_at_once_all_answer(sidecar):
    pids = [sidecar.spawn("cat") for _ in range(1000)]
    for pid in pids:
        sidecar.request("write", {"pid": pid, "data": f"{pid}\n"})
    for pid in pids:
        sidecar.wait_for(lambda: sidecar.output(pid) == f"{pid}\n", timeout=30, what=f"echo from {pid}")
    for pid in pids:
        sidecar.request("closeStdin", {"pid": pid})
    for pid in pids:
        assert sidecar.wait_exit(pid, timeout=30)["code"] == 0
    assert len(psutil.Process(sidecar.proc.pid).threads()) <= 2


def test_running_out_of_file_descriptors_is_a_clear_error_and_the_sidecar_goes_on():
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, preexec_fn=low_limit)
    try:
        errors = []
        for n in range(40):
            request = {"jsonrpc": "2.0", "id": n, "method": "spawn", "params": {"program": "sleep", "args": ["30"]}}
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            if "error" in answer:
                errors.append(answer["error"])
        assert errors, "64 descriptors cannot hold 40 children with three pipes each"
        assert {e["code"] for e in errors} == {-32000}
        assert {e["data"]["code"] for e in errors} <= {"EMFILE", "ENFILE"}
        assert "open files" in errors[0]["message"]
        proc.stdin.write(b'{"jsonrpc":"2.0","id":"alive","method":"initialize"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["id"] == "alive"
    finally:
        proc.stdin.close()
        assert proc.wait(15) == 0


def test_max_children_is_a_clear_error():
    sidecar = Sidecar("--max-children", "3")
    try:
        pids = [sidecar.spawn("sleep", "30") for _ in range(3)]
        error = sidecar.error("spawn", {"program": "sleep", "args": ["30"]})
        assert error.code == -32000 and error.data["code"] == "EAGAIN" and "--max-children" in error.message
        sidecar.request("kill", {"pid": pids[0]})
        sidecar.wait_exit(pids[0])
        assert sidecar.spawn("true")
    finally:
        sidecar.kill()


NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"


@pytest.mark.skipif(not os.access(NS_LAST_PID, os.W_OK), reason="steering pid allocation needs root in the pid namespace")
def test_a_reused_pid_gets_the_earlier_childs_exit_before_the_new_childs_spawn_answer(tmp_path):
    """A child exits, a descendant in a session of its own keeps its stdout open (so its exit waits), and
    the kernel hands its pid to the next spawn. The wire names children by pid: the earlier child's exit
    must come first, and from then on the pid means the new child."""
    sidecar = Sidecar()
    try:
        for attempt in range(20):
            pidfile = tmp_path / f"holder{attempt}"
            old = sidecar.spawn("sh", "-c", f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' & exit 0")
            [holder] = read_pidfile(pidfile)
            assert wait_gone([old]) == [], "the child itself has exited and been reaped"
            assert not [e for e in sidecar.events(old) if e["method"] == "exit"], "its exit waits for the holder"
            with open(NS_LAST_PID, "w") as f:
                f.write(str(old - 1))
            new = sidecar.spawn("sleep", "60")
            if new == old:
                break
            # Something else on the machine forked in between: tidy up and try again.
            sidecar.request("kill", {"pid": new, "signal": "SIGKILL"})
            os.kill(holder, signal.SIGKILL)
            sidecar.wait_exit(old)
            sidecar.wait_exit(new)
        else:
            pytest.skip("the machine kept taking the pid first")
        def exits() -> list[int]:
            return [i for i, m in enumerate(sidecar.received) if m.get("method") == "exit" and m["params"]["pid"] == old]

        answers = [i for i, m in enumerate(sidecar.received) if m.get("result") == {"pid": old}]
        assert len(exits()) == 1 and len(answers) == 2, "two spawn answers named the pid, and one exit so far"
        assert answers[0] < exits()[0] < answers[1], "the earlier child's exit comes before the new child's answer"
        assert sidecar.received[exits()[0]]["params"] == {"pid": old, "code": 0, "signal": None}
        # The pid now means the new child: kill reaches it (not the holder), and its own exit follows.
        sidecar.request("kill", {"pid": new})
        sidecar.wait_for(lambda: len(exits()) == 2, what="the new child's exit")
        assert sidecar.received[exits()[1]]["params"] == {"pid": new, "code": None, "signal": signal.SIGTERM}
        assert psutil.pid_exists(holder), "the earlier child's descendant is not the new child's to kill"
        os.kill(holder, signal.SIGKILL)
    finally:
        sidecar.kill()
