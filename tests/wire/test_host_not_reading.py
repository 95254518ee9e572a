"""A host that sends requests but does not read the answers: the answers do not pile up in the sidecar.
Once the pipe to the host is full, the sidecar stops reading requests too (as it stops reading its children),
so the host's own writes block, and the sidecar's memory stays flat. Nothing is lost: once the host reads,
every request is answered."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psutil

from sidecar_client import REPO, eventually

MiB = 1024 * 1024
REQUESTS = 20000


def test_a_host_that_does_not_read_is_not_read_either() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "--log-level", "error"], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        # A hundred live children make each answer to `list` some 10 KiB.
        for n in range(100):
            proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": f"s{n}", "method": "spawn",
                                         "params": {"program": "sleep", "args": ["60"]}}).encode() + b"\n")
        proc.stdin.flush()
        line = b'{"jsonrpc":"2.0","id":%d,"method":"list","params":{}}\n'
        written = 0

        def send() -> None:
            nonlocal written
            for n in range(REQUESTS):
                proc.stdin.write(line % n)
                written = n + 1
            proc.stdin.flush()

        writer = threading.Thread(target=send, daemon=True)
        writer.start()
        # Let the sidecar answer what it can while nobody reads its stdout.
        time.sleep(3)
        rss = psutil.Process(proc.pid).memory_info().rss
        assert rss < 100 * MiB, f"{rss / MiB:.0f} MiB: answers piled up"
        assert writer.is_alive(), "the sidecar kept reading requests it could not answer"
        # Now read: every request is answered, none lost.
        answered = set()
        while len(answered) < REQUESTS:
            message = json.loads(proc.stdout.readline())
            if isinstance(message.get("id"), int):
                answered.add(message["id"])
        assert eventually(lambda: not writer.is_alive(), 10)
        assert written == REQUESTS
    finally:
        proc.kill()
        proc.wait(10)
