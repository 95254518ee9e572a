"""How a session ends when the host is quick or repetitive about it: a second SIGTERM during the teardown,
end of file right behind the requests."""

import collections
import json
import signal
import subprocess
import sys

from sidecar_client import REPO


def _start() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sidecar", "--log-level", "error"], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )


def test_a_second_sigterm_during_the_teardown_still_ends_with_status_0():
    statuses = collections.Counter()
    for attempt in range(20):
        proc = _start()
        proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"spawn","params":{"program":"sleep","args":["60"]}}\n')
        proc.stdin.flush()
        proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        # The second one lands at different moments of the teardown (which takes a few ms here).
        try:
            proc.wait(0.002 * attempt)
        except subprocess.TimeoutExpired:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        statuses[proc.wait(15)] += 1
    assert statuses == {0: 20}, f"exit statuses: {dict(statuses)}"


def test_end_of_file_right_behind_an_execute_stops_its_child_with_sigterm_as_documented():
    # A host that pipes a few requests and closes stdin at once: the session ends, and a child that was
    # still starting is stopped like every other, SIGTERM first (it used to get SIGKILL at once).
    proc = _start()
    request = {"jsonrpc": "2.0", "id": 1, "method": "execute", "params": {"program": "sleep", "args": ["5"]}}
    out, _ = proc.communicate(json.dumps(request).encode() + b"\n", timeout=15)
    assert proc.returncode == 0
    answer = json.loads(out)
    assert answer["result"] == {"code": None, "signal": signal.SIGTERM, "stdout": "", "stderr": ""}
