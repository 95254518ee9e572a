"""The smoke run of `make bench-tauri` (issue #13): tiny sizes, one round, both sides of every figure, inside the
real app. It checks that the benchmark works, and that each side did its work exactly (the page checks line
counts, byte counts and the CRC-32 of what arrived against the file the child sent, and that the sidecar's side
of the flood lost no byte); no speed is judged here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_tauri  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def test_12_bench_smoke(display, results):
    log: list[str] = []
    data = bench_tauri.run(bench_tauri.SMOKE, 1, bench_tauri.FIGURES, display=display, log=log.append)
    assert not data["failures"], data["failures"]  # the full run goes on past a failed side; the smoke run must not
    # The Tauri transport asks for flow control, and the sidecar agreed.
    assert data["flowControl"] and data["flowControl"]["windowBytes"] > 0, data["flowControl"]
    (only,) = data["rounds"]
    for figure in bench_tauri.FIGURES:
        assert set(only[figure]) == {"direct", "sidecar"}, (figure, only[figure])
    flood = only["flood"]["sidecar"]
    assert flood["complete"] and flood["bytes"] == bench_tauri.SMOKE.flood_bytes, flood
    assert flood["memory"]["samples"] > 0
    assert len(data["startup"]) == 1 + bench_tauri.SMOKE.startup_reloads
    rows = bench_tauri.analyse(data, bench_tauri.SMOKE)
    assert len(rows) == 10, bench_tauri.table(rows)
    results.add("bench smoke", "; ".join(log))
