"""The exact bytes of output notifications, which the TypeScript client reads without JSON.parse.

ts-client/src/core/rpc.ts (parseOutputNotification) takes the data of a stdout/stderr notification straight
out of a line of exactly this layout when its data holds no escape, which is always so for base64 (raw output)
and roughly halves the client's cost per byte. A different layout still works, since the client falls back to
JSON.parse, but silently loses that: change the two together.
"""

import json
import re
import subprocess
import sys

from sidecar_client import REPO

LAYOUT = re.compile(rb'\{"jsonrpc":"2\.0","method":"(stdout|stderr)","params":\{"pid":([1-9][0-9]*),"data":"([^"\\]*)"\}\}\n')


def _lines_until_exit(proc: subprocess.Popen, request: dict) -> list[bytes]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(request).encode() + b"\n")
    proc.stdin.flush()
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, "the sidecar ended early"
        lines.append(line)
        if line.startswith(b'{"jsonrpc":"2.0","method":"exit"'):
            return lines


def test_output_notifications_have_the_layout_the_client_reads_without_json_parse():
    proc = subprocess.Popen([sys.executable, "-m", "sidecar"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        raw = _lines_until_exit(proc, {"jsonrpc": "2.0", "id": 1, "method": "spawn",
                                       "params": {"program": "printf", "args": ["\\001\\377xyz"], "encoding": "base64"}})
        text = _lines_until_exit(proc, {"jsonrpc": "2.0", "id": 2, "method": "spawn",
                                        "params": {"program": "sh", "args": ["-c", "printf 'no escapes' >&2"]}})
        outputs = [line for line in raw + text if b'"method":"std' in line]
        matches = [LAYOUT.fullmatch(line) for line in outputs]
        assert all(matches), outputs
        assert [(m[1], m[3]) for m in matches] == [(b"stdout", b"Af94eXo="), (b"stderr", b"no escapes")]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(15) == 0
