"""How soon the guardian knows of a descendant that left its process group (a daemon's setsid): within the
quick sweep's 0.1 s (sidecar/processes/orphans.py), not at the next full sweep, 2 s later. A SIGKILL of the
sidecar half a second after the escape leaves nothing running. And once such a stray is gone, its entry in the
guardian's table is cleared (a long session may see many)."""

import os
import signal
import time

import pytest

from sidecar import system
from sidecar.processes.guardian import _read_table
from sidecar_client import Sidecar, eventually, python, read_pidfile, wait_gone

ESCAPE = (
    "import subprocess, sys, time\n"
    "time.sleep(float(sys.argv[2]))\n"
    "p = subprocess.Popen(['sleep', '60'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
    "open(sys.argv[1], 'w').write(f'{p.pid}\\n')\n"
    "time.sleep(60)"
)


def test_a_descendant_that_left_its_group_half_a_second_before_a_sigkill_does_not_survive(tmp_path):
    sidecar = Sidecar("--log-level", "error")
    strays = []
    try:
        # Several children escape at different moments of the sweeps' rhythm; each is given 0.5 s.
        for n in range(4):
            pidfile = tmp_path / f"stray{n}"
            sidecar.spawn(*python(ESCAPE), str(pidfile), str(0.3 * n))
        started = time.monotonic()
        for n in range(4):
            strays += read_pidfile(tmp_path / f"stray{n}")
        time.sleep(max(0.0, started + 0.3 * 3 + 0.5 - time.monotonic()))
        sidecar.proc.send_signal(signal.SIGKILL)
        sidecar.proc.wait(10)
        assert wait_gone(strays, timeout=5) == [], "a stray outlived the SIGKILLed sidecar"
    finally:
        sidecar.kill()
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _guardian_table(sidecar_pid: int) -> tuple[set[int], dict[int, float]]:
    """What the guardian would kill now: the table it shares with the sidecar, read through the sidecar's descriptor."""
    for fd in os.listdir(f"/proc/{sidecar_pid}/fd"):
        if os.readlink(f"/proc/{sidecar_pid}/fd/{fd}").startswith("/memfd:process-sidecar-guardian"):
            table = os.open(f"/proc/{sidecar_pid}/fd/{fd}", os.O_RDONLY)
            try:
                return _read_table(table)
            finally:
                os.close(table)
    raise AssertionError("the sidecar holds no guardian table")


@pytest.mark.skipif(not system.LINUX, reason="reads the guardian's memfd through /proc")
def test_a_stray_is_entered_for_the_guardian_and_cleared_once_it_is_gone(tmp_path):
    sidecar = Sidecar("--log-level", "error")
    try:
        pidfile = tmp_path / "stray"
        child = sidecar.spawn(*python(ESCAPE), str(pidfile), "0")
        [stray] = read_pidfile(pidfile)
        eventually(lambda: stray in _guardian_table(sidecar.proc.pid)[1], 5, "the stray in the guardian's table")
        assert child in _guardian_table(sidecar.proc.pid)[0]  # the child's own group, beside it
        os.kill(stray, signal.SIGKILL)
        # The next full sweep (every 2 s while children run) no longer finds it: its slot is cleared.
        eventually(lambda: stray not in _guardian_table(sidecar.proc.pid)[1], 10, "the stray cleared from the table")
        assert child in _guardian_table(sidecar.proc.pid)[0]
    finally:
        sidecar.kill()
