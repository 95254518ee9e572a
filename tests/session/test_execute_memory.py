"""What executes hold: a finished execute frees its output at once, and all executes together stay within
--max-collected-bytes, whatever the host asks for."""

from __future__ import annotations

import psutil

from sidecar_client import Sidecar, python

MiB = 1024 * 1024


def _rss(sidecar: Sidecar) -> int:
    return psutil.Process(sidecar.proc.pid).memory_info().rss


def test_a_finished_execute_frees_its_output_at_once() -> None:
    # A reference cycle used to keep each run's collected chunks until Python's cycle collector happened to
    # run: ten runs of 30 MB left the sidecar near 290 MiB.
    sidecar = Sidecar("--log-level", "error")
    try:
        writer = python("import sys; sys.stdout.write('x' * (30 * 1024 * 1024))")
        for _ in range(10):
            result = sidecar.request("execute", {"program": writer[0], "args": writer[1:]}, timeout=60)
            assert len(result["stdout"]) == 30 * MiB
            del result
            sidecar.responses.clear()
        assert _rss(sidecar) < 120 * MiB, f"{_rss(sidecar) / MiB:.0f} MiB held after the executes ended"
    finally:
        sidecar.kill()


def test_executes_together_stop_at_max_collected_bytes() -> None:
    sidecar = Sidecar("--log-level", "error", "--max-collected-bytes", str(40 * MiB))
    try:
        ids = [sidecar.start_request("execute", {"program": "yes"}) for _ in range(6)]
        peak = 0
        errors = []
        for request_id in ids:
            response = sidecar.response(request_id, timeout=60)
            peak = max(peak, _rss(sidecar))
            errors.append(response["error"])
        # Each run is stopped, by its own maxBuffer (64 MiB) never: by the total.
        assert {error["code"] for error in errors} == {-32007}
        stopped_by_total = [e for e in errors if e["data"]["reason"] == "maxCollectedBytes"]
        assert stopped_by_total, errors
        for error in stopped_by_total:
            assert error["data"]["maxCollectedBytes"] == 40 * MiB
            assert "--max-collected-bytes" in error["message"]
        kept = sum(len(e["data"]["stdout"]) for e in errors)
        assert kept <= 40 * MiB * 2, "what is kept is bounded by the total (each answer gives its share back)"
        assert peak < 400 * MiB, f"peak RSS {peak / MiB:.0f} MiB"
        # The budget came back: a small execute runs fine afterwards.
        assert sidecar.request("execute", {"program": "echo", "args": ["ok"]})["stdout"] == "ok\n"
    finally:
        sidecar.kill()
