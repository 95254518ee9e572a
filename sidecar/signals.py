"""Signals by name, and delivery of a signal to a child's whole process tree."""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import psutil

from .errors import SidecarError
from .schema import show

log = logging.getLogger(__name__)

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
    raise SidecarError(
        "InvalidParams",
        f"{field} must be {expected}, got {show(value)}",
        {"field": field, "expected": expected, "received": value},
    )


def _strays(leader: int, group: int) -> list[psutil.Process]:
    """Descendants of `leader` that left its process group (setsid, setpgid): killpg misses them."""
    try:
        descendants = psutil.Process(leader).children(recursive=True)
    except psutil.Error:
        return []
    strays = []
    for process in descendants:
        try:
            if os.getpgid(process.pid) != group:
                strays.append(process)
        except OSError:
            continue
    return strays


def signal_tree(leader: int, sig: int, *, leader_reaped: bool) -> None:
    """Send `sig` to the process group that `leader` leads and to its descendants outside the group.

    Every child is started as a session leader, so its group id is its pid. The strays are collected
    before the group is signalled, while their parent links still lead back to the leader. Once the
    leader is reaped its children have been re-parented and only its group remains reachable; the group
    id cannot be reused while any member of the group lives.
    """
    strays = [] if leader_reaped else _strays(leader, leader)
    try:
        os.killpg(leader, sig)
    except ProcessLookupError:
        pass
    for process in strays:
        try:
            # psutil refuses to signal a pid that has been reused by another process since.
            process.send_signal(sig)
        except psutil.Error:
            pass


def signal_one(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
