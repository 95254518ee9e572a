"""How soon the guardian knows of a descendant that left its process group (a daemon's setsid): within the
quick sweep's 0.1 s (sidecar/processes/orphans.py), not at the next full sweep, 2 s later. A SIGKILL of the
sidecar half a second after the escape leaves nothing running."""

import os
import signal
import time

from sidecar_client import Sidecar, python, read_pidfile, wait_gone

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
