"""initialize notificationBytes: how much of a child's output one notification may carry. The default suits a
Node host; a host that pays per message (a webview behind Tauri's IPC) asks for larger pieces, and gets them
without a byte lost or reordered."""

from __future__ import annotations

import base64
import hashlib

from sidecar_client import Sidecar, eventually, python

FLOOD_BYTES = 8 * 1024 * 1024
FLOOD = python(
    "import hashlib, sys\n"
    f"data = hashlib.sha256(b'seed').digest() * ({FLOOD_BYTES} // 32)\n"
    "sys.stdout.buffer.write(data)"
)
EXPECTED = hashlib.sha256(hashlib.sha256(b"seed").digest() * (FLOOD_BYTES // 32)).hexdigest()


def _pieces(sidecar: Sidecar) -> list[bytes]:
    pid = sidecar.request("spawn", {"program": FLOOD[0], "args": FLOOD[1:], "encoding": "base64"})["pid"]
    eventually(lambda: any(n["method"] == "exit" for n in sidecar.events(pid)), what="the flood's exit", timeout=30)
    return [base64.b64decode(n["params"]["data"]) for n in sidecar.events(pid) if n["method"] == "stdout"]


def test_by_default_a_notification_carries_at_most_64_KiB():
    sidecar = Sidecar()
    try:
        assert sidecar.request("initialize", {})["capabilities"]["notificationBytes"] == 65536
        pieces = _pieces(sidecar)
        assert sidecar.close() == 0
    finally:
        sidecar.kill()
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == EXPECTED
    assert max(map(len, pieces)) <= 65536


def test_a_host_that_asks_for_larger_notifications_gets_them_exact_and_in_order():
    sidecar = Sidecar()
    try:
        capabilities = sidecar.request("initialize", {"notificationBytes": 262144})["capabilities"]
        assert capabilities["notificationBytes"] == 262144
        pieces = _pieces(sidecar)
        assert sidecar.close() == 0
    finally:
        sidecar.kill()
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == EXPECTED
    # Larger than a default pipe holds: the child's pipes were made to hold a notification's worth (Linux).
    assert 65536 < max(map(len, pieces)) <= 262144
