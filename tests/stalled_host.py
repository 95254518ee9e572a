"""A host that stops reading the sidecar's stdout while a child floods it: the scenario behind the
backpressure tests for pipes (test_lifecycle) and terminals (test_terminal)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time

import psutil

from sidecar_client import REPO

BLOCK = 1024 * 1024
PATTERN = bytes(i % 251 for i in range(BLOCK))  # not periodic in 2^n: a reordered chunk changes the digest


def flood_script(total: int) -> str:
    """A child program that writes `total` bytes of PATTERN to its stdout, blocking when nobody reads."""
    return (
        "import os\n"
        f"block = bytes(i % 251 for i in range({BLOCK}))\n"
        f"for _ in range({total // BLOCK}):\n"
        "    view = memoryview(block)\n"
        "    while view: view = view[os.write(1, view):]\n"
    )


def stall_then_read_all(spawn_params: dict, stall_s: float, growth_cap: int, rss_cap: int) -> tuple[int, str]:
    """Spawns a child with `spawn_params` (base64 output), reads nothing for `stall_s` seconds while
    sampling the sidecar's RSS (which must grow by less than `growth_cap` and stay under `rss_cap`), then
    reads every stdout notification up to `exit` (code 0). Returns the byte count and sha256 received."""
    proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        request = {"jsonrpc": "2.0", "id": 1, "method": "spawn", "params": {**spawn_params, "encoding": "base64"}}
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        sidecar = psutil.Process(proc.pid)
        time.sleep(1.0)
        samples = []
        for _ in range(int(stall_s / 0.5)):
            samples.append(sidecar.memory_info().rss)
            time.sleep(0.5)
        growth = max(samples) - samples[0]
        assert growth < growth_cap, f"RSS grew by {growth} bytes while the host stalled: {samples}"
        assert max(samples) < rss_cap, f"RSS {max(samples)} while stalled"
        digest = hashlib.sha256()
        received = 0
        while True:
            message = json.loads(proc.stdout.readline())
            if message.get("method") == "stdout":
                chunk = base64.b64decode(message["params"]["data"])
                digest.update(chunk)
                received += len(chunk)
            elif message.get("method") == "exit":
                assert message["params"]["code"] == 0, message
                return received, digest.hexdigest()
    finally:
        proc.kill()
        proc.wait()
