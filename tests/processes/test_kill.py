"""kill: the whole tree by default, any signal, SIGKILL after a grace period, only our own children."""

import os
import signal
import subprocess
import sys
import time

from sidecar_client import python, read_pidfile, wait_gone

SLEEPER = "import time; time.sleep(60)"


def test_kill_defaults_to_sigterm(sidecar):
    pid = sidecar.spawn(*python(SLEEPER))
    assert sidecar.request("kill", {"pid": pid}) is None
    assert sidecar.wait_exit(pid) == {"pid": pid, "code": None, "signal": signal.SIGTERM}


def test_kill_with_a_chosen_signal(sidecar):
    pid = sidecar.spawn(*python(SLEEPER))
    sidecar.request("kill", {"pid": pid, "signal": "SIGINT"})
    assert sidecar.wait_exit(pid)["code"] == 1 or sidecar.wait_exit(pid)["signal"] == signal.SIGINT
    pid = sidecar.spawn(*python(SLEEPER))
    sidecar.request("kill", {"pid": pid, "signal": int(signal.SIGKILL)})
    assert sidecar.wait_exit(pid)["signal"] == signal.SIGKILL


def test_a_child_handling_a_signal_is_only_signalled(sidecar):
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGUSR1, lambda *a: (print('usr1', flush=True), sys.exit(5)))\n"
        "print('ready', flush=True); time.sleep(60)"
    )
    pid = sidecar.spawn(*python(code))
    sidecar.wait_for(lambda: sidecar.output(pid).endswith("ready\n"), what="ready")
    sidecar.request("kill", {"pid": pid, "signal": "SIGUSR1"})
    assert sidecar.wait_exit(pid)["code"] == 5
    assert sidecar.output(pid) == "ready\nusr1\n"


def test_a_child_ignoring_sigterm_is_killed_after_force_after_ms(sidecar):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    pid = sidecar.spawn(*python(code))
    sidecar.wait_for(lambda: sidecar.output(pid).endswith("ready\n"), what="ready")
    started = time.monotonic()
    sidecar.request("kill", {"pid": pid, "forceAfterMs": 300})
    assert sidecar.wait_exit(pid)["signal"] == signal.SIGKILL
    assert time.monotonic() - started >= 0.25


def test_kill_reaches_shell_grandchildren(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    # sh starts two sleepers in the background and waits: the kill must reach them, not only sh.
    script = f"sleep 60 & a=$!; sleep 60 & echo $a $! > {pidfile}; wait"
    pid = sidecar.spawn("sh", "-c", script)
    grandchildren = read_pidfile(pidfile)
    sidecar.request("kill", {"pid": pid})
    sidecar.wait_exit(pid)
    assert wait_gone(grandchildren) == []


def test_kill_reaches_a_grandchild_that_left_the_process_group(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(f'{{p.pid}}\\n')\n"
        "time.sleep(60)"
    )
    pid = sidecar.spawn(*python(code))
    [escaped] = read_pidfile(pidfile)
    assert os.getpgid(escaped) != pid
    sidecar.request("kill", {"pid": pid})
    sidecar.wait_exit(pid)
    assert wait_gone([escaped]) == []


def test_tree_false_signals_the_child_alone(sidecar, tmp_path):
    pidfile = tmp_path / "pids"
    pid = sidecar.spawn("sh", "-c", f"sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}; wait")
    [grandchild] = read_pidfile(pidfile)
    try:
        sidecar.request("kill", {"pid": pid, "tree": False, "signal": "SIGKILL"})
        time.sleep(0.3)
        assert wait_gone([grandchild], timeout=0.2) == [grandchild], "the grandchild must survive tree: false"
        sidecar.wait_exit(pid)
    finally:
        os.kill(grandchild, signal.SIGKILL)


def test_kill_of_a_pid_the_sidecar_did_not_spawn_is_refused_and_sends_nothing(sidecar):
    bystander = subprocess.Popen([sys.executable, "-c", SLEEPER])
    try:
        error = sidecar.error("kill", {"pid": bystander.pid, "signal": "SIGKILL"})
        assert error.code == -32003 and error.data == {"pid": bystander.pid}
        assert str(bystander.pid) in error.message
        time.sleep(0.1)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_kill_after_exit_is_unknown_process(sidecar):
    status, _, _ = sidecar.run("true")
    error = sidecar.error("kill", {"pid": status["pid"]})
    assert error.code == -32003


def test_unknown_signal_names_are_invalid_params(sidecar):
    pid = sidecar.spawn(*python(SLEEPER))
    error = sidecar.error("kill", {"pid": pid, "signal": "SIGNOPE"})
    assert error.code == -32602 and error.data["field"] == "params.signal"
    error = sidecar.error("kill", {"pid": pid, "signal": "TERM"})
    assert error.code == -32602 and error.data["field"] == "params.signal"
    sidecar.request("kill", {"pid": pid, "signal": "SIGKILL"})
    sidecar.wait_exit(pid)
