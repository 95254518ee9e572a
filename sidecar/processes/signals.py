"""Signals by name, and delivery of a signal to a child's whole process tree."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any


from .. import system
from ..wire.errors import invalid_params, show
from .process_table import Descendants

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and an idle sidecar never needs it
    import psutil

SIGNALS: dict[str, int] = {
    member.name: int(member)
    for member in sorted(signal.Signals, key=int)
    if member.name.startswith("SIG") and not member.name.startswith("SIG_")
}
"""Every signal name this platform knows (SIGRTMIN and SIGRTMAX included), by name."""


def parse_signal(value: Any, field: str = "params.signal") -> int:
    """A signal name or number from the wire, as a number; InvalidParams if this platform lacks it."""
    if isinstance(value, str):
        number = SIGNALS.get(value)
        if number is not None:
            return number
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < signal.NSIG:
        return int(value)
    expected = "a signal this platform knows (see capabilities.signals)"
    raise invalid_params(field, expected, value, f"{field} must be {expected}, got {show(value)}")


def _strays(leaders: list[int]) -> list[psutil.Process]:
    """The descendants of each leader that left its process group (setsid, setpgid): killpg misses them.
    One snapshot of the process table serves every leader (a thousand trees, one walk)."""
    if not leaders:
        return []
    table = Descendants()
    strays = []
    for leader in leaders:
        for process in table.below(leader):
            group = table.group(process.pid)
            if group is not None and group != leader:
                strays.append(process)
    return strays


def signal_trees(leaders: list[tuple[int, bool]], sig: int) -> None:
    """Send `sig` to the process group that each leader leads and to its descendants outside the group.

    `leaders` holds (pid, reaped) pairs. Every child is started as a session leader, so its group id is its
    pid. The strays are collected before the groups are signalled, while their parent links still lead
    back to the leader. Once a leader is reaped its children have been re-parented and only its group
    remains reachable; the group id cannot be reused while any member of the group lives.
    """
    import psutil

    strays = _strays([pid for pid, reaped in leaders if not reaped])
    for leader, _ in leaders:
        system.signal_group(leader, sig)
    for process in strays:
        try:
            # psutil refuses to signal a pid that has been reused by another process since.
            process.send_signal(sig)
        except psutil.Error:
            pass


def signal_one(pid: int, sig: int) -> None:
    system.signal_process(pid, sig)
