"""What a host may learn about the running children: `list` (how each was started) and `stats` (what its
process tree uses now)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..processes.process_table import Descendants
from ..processes.supervisor import Launched

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and only `stats` needs it here
    import psutil


def listing(spawned: list[Launched]) -> dict:
    return {"children": [_entry(launched) for launched in spawned]}


def _entry(launched: Launched) -> dict:
    child = launched.child
    size = child.terminal_size
    pty = {"cols": size[0], "rows": size[1]} if size is not None else None
    return {
        "pid": child.pid,
        "program": launched.spec.program,
        "args": list(launched.spec.args),
        "cwd": launched.cwd,
        "startedAt": launched.started_at_ms,
        "pty": pty,
    }


def tree_usage(pid: int, exclude: frozenset[int]) -> dict:
    """CPU time, resident memory and the number of descendants of the tree that `kill` would reach.

    CPU time counts each live process of the tree and the children each of them has waited for, so a
    shell's finished commands count too. RSS is summed over the processes (a page two of them share counts
    twice, as in top).
    """
    import psutil

    user = system_time = 0.0
    rss = 0
    others = 0
    for process in _tree(pid, exclude):
        try:
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_info().rss
                zombie = process.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue  # gone meanwhile
        user += times.user + times.children_user
        system_time += times.system + times.children_system
        rss += memory
        if process.pid != pid and not zombie:
            others += 1
    return {
        "pid": pid,
        "cpu": {"userMs": round(user * 1000), "systemMs": round(system_time * 1000)},
        "rssBytes": rss,
        "descendants": others,
    }


def _tree(pid: int, exclude: frozenset[int]) -> list[psutil.Process]:
    """The child, its descendants, and the members of its process group that the sidecar adopted when
    their parent died (they are no longer below the child, but `kill` reaches them through the group)."""
    tree = []
    table = Descendants(exclude)
    for process in table:
        if table.is_below(process.pid, pid) or table.group(process.pid) == pid:
            tree.append(process)
    return tree
