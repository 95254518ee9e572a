"""A snapshot of the sidecar's living descendants and their parent links, from one walk of the process table.

Stopping trees, sweeping for strays and measuring a tree all ask "which of our descendants lie below
this pid?"; asking psutil once per pid would walk the whole process table each time (for a thousand
children, a thousand walks). One snapshot answers every such question. It is read with system.process_links
where the system has it (Linux: each process's stat file, about a quarter of psutil's cost), else through psutil;
psutil.Process objects are made only for what a caller asks for (the quick stray sweep asks for none).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator

from .. import system

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and an idle sidecar never needs it
    import psutil

Links = dict[int, tuple[int, int | None]]
"""pid -> (its parent, its process group when the snapshot has it)."""


def _links_through_psutil() -> Links:
    import psutil

    links: Links = {}
    for process in psutil.process_iter(["ppid"]):
        ppid = process.info["ppid"]
        if ppid is not None:  # None: gone meanwhile
            links[process.pid] = (ppid, None)
    return links


class Descendants:
    """The sidecar's descendants now, but those in `exclude` (the guardian) and everything below them.
    `links`: a snapshot already read (system.process_links, or system.descendant_links: the sidecar's tree
    alone), else one of the whole process table is read."""

    def __init__(self, exclude: Iterable[int] = (), links: Links | None = None) -> None:
        if links is None:
            links = system.process_links()
        self._links: Links = dict(links) if links is not None else _links_through_psutil()
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in self._links.items():
            children.setdefault(parent, []).append(pid)
        excluded = set(exclude)
        self._children: dict[int, list[int]] = {}
        self._pids: list[int] = []
        pending = [os.getpid()]
        seen = set(pending)  # (a cycle that a pid reused between two reads could fake must not loop)
        while pending:
            parent = pending.pop()
            below = [pid for pid in children.get(parent, ()) if pid not in excluded and pid not in seen]
            if below:
                seen.update(below)
                self._children[parent] = below
                self._pids.extend(below)
                pending.extend(below)
        self._processes: dict[int, psutil.Process | None] = {}

    @property
    def pids(self) -> list[int]:
        return self._pids

    def __iter__(self) -> Iterator[psutil.Process]:
        return self._existing(self._pids)

    def below(self, ancestor: int) -> list[psutil.Process]:
        """The descendants of `ancestor` (itself not included)."""
        found: list[int] = []
        pending = [ancestor]
        while pending:  # _children is a tree (built above without repeats): this ends
            below = self._children.get(pending.pop(), ())
            found.extend(below)
            pending.extend(below)
        return list(self._existing(found))

    def is_below(self, pid: int, ancestor: int) -> bool:
        """Whether `pid` is `ancestor` or lies below it."""
        # Parent links form a tree, so following them ends at init. The bound guards against a cycle that a
        # pid reused between two reads of the table could fake.
        for _ in range(len(self._links) + 1):
            if pid == ancestor:
                return True
            if pid not in self._links:
                return False
            pid = self._links[pid][0]
        return False

    def group(self, pid: int) -> int | None:
        """The process group of `pid`: the snapshot's where it has one, else asked now; None if it is gone."""
        known = self._links.get(pid)
        if known is not None and known[1] is not None:
            return known[1]
        try:
            return system.process_group(pid)
        except OSError:
            return None

    def process(self, pid: int) -> psutil.Process | None:
        """`pid` as a psutil.Process, made when first asked for (it then stays that very process, should the pid
        be reused); None if it is gone."""
        if pid not in self._processes:
            import psutil

            try:
                self._processes[pid] = psutil.Process(pid)
            except psutil.Error:
                self._processes[pid] = None
        return self._processes[pid]

    def _existing(self, pids: Iterable[int]) -> Iterator[psutil.Process]:
        for pid in pids:
            process = self.process(pid)
            if process is not None:
                yield process
