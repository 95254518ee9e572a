"""A snapshot of the sidecar's living descendants and their parent links, from one walk of the process table.

Stopping trees, sweeping for strays and measuring a tree all ask "which of our descendants lie below
this pid?"; asking psutil once per pid would walk the whole process table each time (for a thousand
children, a thousand walks). One snapshot answers every such question.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and an idle sidecar never needs it
    import psutil


class Descendants:
    """The sidecar's descendants now, but those in `exclude` (the guardian) and everything below them."""

    def __init__(self, exclude: Iterable[int] = ()) -> None:
        import psutil

        # One read of each process's stat file: its parent. (psutil's children(recursive=True) reads them all
        # too, but then each descendant's parent had to be read again.)
        self._parents: dict[int, int] = {}
        children: dict[int, list[psutil.Process]] = {}
        for process in psutil.process_iter(["ppid"]):
            ppid = process.info["ppid"]
            if ppid is None:
                continue  # gone meanwhile
            self._parents[process.pid] = ppid
            children.setdefault(ppid, []).append(process)
        excluded = set(exclude)
        self._children: dict[int, list[psutil.Process]] = {}
        self._processes: list[psutil.Process] = []
        pending = [os.getpid()]
        seen = set(pending)  # (a cycle that a pid reused between two reads could fake must not loop)
        while pending:
            parent = pending.pop()
            below = [child for child in children.get(parent, ()) if child.pid not in excluded and child.pid not in seen]
            if below:
                seen.update(child.pid for child in below)
                self._children[parent] = below
                self._processes.extend(below)
                pending.extend(child.pid for child in below)

    def __iter__(self) -> Iterator[psutil.Process]:
        return iter(self._processes)

    def below(self, ancestor: int) -> list[psutil.Process]:
        """The descendants of `ancestor` (itself not included)."""
        found: list[psutil.Process] = []
        pending = [ancestor]
        while pending:  # _children is a tree (built above without repeats): this ends
            below = self._children.get(pending.pop(), ())
            found.extend(below)
            pending.extend(child.pid for child in below)
        return found

    def is_below(self, pid: int, ancestor: int) -> bool:
        """Whether `pid` is `ancestor` or lies below it."""
        return self._below_any(pid, {ancestor})

    def _below_any(self, pid: int, ancestors: set[int]) -> bool:
        # Parent links form a tree, so following them ends at init. The bound guards against a cycle that a
        # pid reused between two reads of the table could fake.
        for _ in range(len(self._parents) + 1):
            if pid in ancestors:
                return True
            if pid not in self._parents:
                return False
            pid = self._parents[pid]
        return False
