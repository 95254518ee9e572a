"""End-to-end flow control (initialize flowControl, $/outputConsumed): a child's output on its way to the host
never exceeds its window; acknowledgements let it flow, exactly and in order; one child held back stalls
no other; the end of the session lifts every window."""

from __future__ import annotations

import hashlib

from sidecar_client import Sidecar, eventually, python

WINDOW = 65536
CHUNK = 65536  # the most bytes a notification carries (sidecar/processes/output_sinks.py)
FLOOD = python(
    "import sys\n"
    "line = b'0123456789abcdefghijklmnopqrstuvwxyz' * 2 + b'\\n'\n"
    "sys.stdout.buffer.write(line * (8 * 1024 * 1024 // len(line)))"
)
FLOOD_BYTES = (8 * 1024 * 1024 // 73) * 73


def _flow_sidecar(log_level: str = "error") -> Sidecar:
    sidecar = Sidecar("--log-level", log_level)
    capabilities = sidecar.request("initialize", {"flowControl": {"windowBytes": WINDOW}})["capabilities"]
    assert capabilities["flowControl"] == {"windowBytes": WINDOW}
    return sidecar


def _data(sidecar: Sidecar, pid: int) -> list[str]:
    return [n["params"]["data"] for n in sidecar.events(pid) if n["method"] in ("stdout", "stderr")]


def _exited(sidecar: Sidecar, pid: int) -> bool:
    events = sidecar.events(pid)
    return bool(events) and events[-1]["method"] == "exit"


def _held_at(sidecar: Sidecar, pid: int) -> int:
    """Once the child has filled its window and nothing more arrives for half a second (it waits, held
    back): how many notifications it has sent."""
    eventually(lambda: sum(len(data) for data in _data(sidecar, pid)) >= WINDOW, what="a window's worth of output")
    counts = [-1]

    def settled() -> bool:
        counts.append(len(_data(sidecar, pid)))
        return counts[-1] == counts[-2]

    eventually(settled, what="the output to stop at the window", interval=0.5)
    return counts[-1]


def _acknowledge_until_exit(sidecar: Sidecar, pid: int, timeout: float, number: type = int) -> None:
    """Acknowledge every notification of `pid` as it comes, as a host that keeps up would, until its exit;
    the counts sent as `number` (float: as a host in Python or Lua may send them, 3.0)."""
    acked = [0]

    def acknowledged_to_the_end() -> bool:
        count = len(_data(sidecar, pid))
        if count > acked[0]:
            sidecar.notify("$/outputConsumed", {"acks": [{"pid": pid, "notifications": number(count - acked[0])}]})
            acked[0] = count
        return _exited(sidecar, pid)

    eventually(acknowledged_to_the_end, timeout, f"the exit of {pid}, acknowledged as it went")


def test_unacknowledged_output_stops_at_the_window_and_acknowledgements_let_all_of_it_through():
    sidecar = _flow_sidecar()
    try:
        pid = sidecar.spawn(*FLOOD)
        held = _held_at(sidecar, pid)
        unacknowledged = sum(len(data) for data in _data(sidecar, pid))
        assert WINDOW <= unacknowledged < WINDOW + CHUNK, unacknowledged
        assert sidecar.events(pid)[-1]["method"] != "exit", "the child is held back, not finished"
        _acknowledge_until_exit(sidecar, pid, timeout=60)
        assert held < len(_data(sidecar, pid))
        text = "".join(_data(sidecar, pid)).encode()
        assert len(text) == FLOOD_BYTES
        line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\n"
        assert hashlib.sha256(text).digest() == hashlib.sha256(line * (FLOOD_BYTES // 73)).digest()
        assert sidecar.wait_exit(pid)["code"] == 0
    finally:
        sidecar.kill()


def test_acknowledgements_counted_in_integral_floats_release_a_held_child():
    sidecar = _flow_sidecar("warning")
    try:
        pid = sidecar.spawn(*python("import sys; sys.stdout.write('f' * 400000)"))
        _held_at(sidecar, pid)
        _acknowledge_until_exit(sidecar, pid, timeout=30, number=float)
        assert "".join(_data(sidecar, pid)) == "f" * 400000
        assert sidecar.close() == 0
        assert not [line for line in sidecar.all_stderr() if "Traceback" in line or "Error" in line]
    finally:
        sidecar.kill()


def test_a_child_held_at_its_window_stalls_no_other():
    sidecar = _flow_sidecar()
    try:
        held = sidecar.spawn(*FLOOD)
        _held_at(sidecar, held)
        # Another child, acknowledged as it goes, runs to its end meanwhile.
        other = sidecar.spawn(*python("import sys; sys.stdout.write('z' * 300000)"))
        _acknowledge_until_exit(sidecar, other, timeout=30)
        assert "".join(_data(sidecar, other)) == "z" * 300000
        assert sidecar.events(held)[-1]["method"] != "exit"
        assert sidecar.request("stats", {"pid": held})["pid"] == held, "still running, held back"
    finally:
        sidecar.kill()


def test_the_end_of_the_session_lifts_every_window():
    # Held children are stopped like any other; what they had written into their pipes still goes out
    # before their exits, instead of the session giving up on pipes that are never read.
    sidecar = _flow_sidecar("warning")
    try:
        pids = [sidecar.spawn(*FLOOD) for _ in range(3)]
        held = {pid: _held_at(sidecar, pid) for pid in pids}
        sidecar.request("shutdown", {}, timeout=20)
        for pid in pids:
            assert _exited(sidecar, pid)
            assert len(_data(sidecar, pid)) > held[pid], "the output waiting in the pipe went out"
        assert sidecar.close() == 0
        assert not [line for line in sidecar.all_stderr() if "closing the pipes" in line]
    finally:
        sidecar.kill()


def test_without_flow_control_acknowledgements_are_ignored_and_nothing_is_held(sidecar: Sidecar):
    assert sidecar.request("initialize", {})["capabilities"]["flowControl"] is None
    sidecar.notify("$/outputConsumed", {"acks": [{"pid": 1, "notifications": 5}]})
    pid = sidecar.spawn(*FLOOD)
    assert sidecar.wait_exit(pid, timeout=60)["code"] == 0
    assert len("".join(_data(sidecar, pid))) == FLOOD_BYTES


def test_acknowledgements_for_unknown_pids_or_too_many_are_harmless():
    sidecar = _flow_sidecar()
    try:
        sidecar.notify("$/outputConsumed", {"acks": [{"pid": 424242, "notifications": 3}]})
        pid = sidecar.spawn("echo", "hi")
        eventually(lambda: _exited(sidecar, pid), what="the exit")
        sidecar.notify("$/outputConsumed", {"acks": [{"pid": pid, "notifications": 1000}]})
        assert sidecar.request("list", {}) == {"children": []}
    finally:
        sidecar.kill()
