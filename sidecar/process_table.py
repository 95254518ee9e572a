"""A snapshot of the sidecar's living descendants and their parent links, from one walk of the process table.

Stopping trees, sweeping for strays and measuring a tree all ask "which of our descendants lie below
this pid?"; asking psutil once per pid would walk the whole process table each time (for a thousand
children, a thousand walks). One snapshot answers every such question.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import psutil


class Descendants:
    """The sidecar's descendants now, but those in `exclude` (the guardian) and everything below them."""

    def __init__(self, exclude: Iterable[int] = ()) -> None:
        try:
            everything = psutil.Process().children(recursive=True)  # psutil builds its parent map once
        except psutil.Error:
            everything = []
        self._parents: dict[int, int] = {}
        for process in everything:
            try:
                self._parents[process.pid] = process.ppid()
            except psutil.Error:
                continue  # gone meanwhile
        excluded = set(exclude)
        self._processes = [
            process for process in everything
            if process.pid in self._parents and not (excluded and self._below_any(process.pid, excluded))
        ]
        self._children: dict[int, list[psutil.Process]] = {}
        for process in self._processes:
            self._children.setdefault(self._parents[process.pid], []).append(process)

    def __iter__(self) -> Iterator[psutil.Process]:
        return iter(self._processes)

    def below(self, ancestor: int) -> list[psutil.Process]:
        """The descendants of `ancestor` (itself not included)."""
        found: list[psutil.Process] = []
        seen = {ancestor}  # (a faked cycle, see _below_any, must not loop)
        pending = [ancestor]
        while pending:
            for child in self._children.get(pending.pop(), ()):
                if child.pid not in seen:
                    seen.add(child.pid)
                    found.append(child)
                    pending.append(child.pid)
        return found

    def is_below(self, pid: int, ancestor: int) -> bool:
        """Whether `pid` is `ancestor` or lies below it."""
        return self._below_any(pid, {ancestor})

    def _below_any(self, pid: int, ancestors: set[int]) -> bool:
        # Parent links form a tree, so following them ends at the sidecar. The bound guards against a cycle
        # that a pid reused between two reads of the table could fake.
        for _ in range(len(self._parents) + 1):
            if pid in ancestors:
                return True
            if pid not in self._parents:
                return False
            pid = self._parents[pid]
        return False
