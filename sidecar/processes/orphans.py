"""Descendants the sidecar did not start directly: adopt them, reap them, and keep track of them.

The sidecar makes itself a child subreaper (Linux PR_SET_CHILD_SUBREAPER): a descendant whose parent
dies is re-parented to the sidecar instead of to init. So every process of every tree stays findable
under the sidecar (the process table), a setsid'd daemon included, and is stopped when the session ends.
The price is that the sidecar must reap those adopted processes; exit_watch waits only for the children it
started.

A descendant that leaves its child's process group (a daemon's setsid) is out of reach of the guardian's
killpg should the sidecar be SIGKILLed, until the guardian is told of it. So while children run, a quick
sweep (a walk down the sidecar's own tree through the kernel's lists of children on Linux, else one read of
every process's stat) looks for such strays every STRAY_SWEEP_EVERY seconds, or less often when the tree is
very large (the sweep stays under STRAY_SWEEP_SHARE of a CPU).
That is the window that remains: a stray that appears less than that before a SIGKILL of the sidecar can
survive it.

The slower full sweep (psutil) runs every SWEEP_EVERY seconds while children run, and soon after any of them
finishes: a process is adopted when its parent dies, and its parent was a child or an adopted process (or
something below one, which the periodic sweeps cover while it lives). Each adopted process it finds is
watched through a pidfd (Linux 5.3+), so it is reaped as soon as it exits, and the sweep after that finds
its own children, adopted in turn. After an exit, a cheap look at the sidecar's own children first tells whether
anything was adopted at all. Not SIGCHLD: a Python-level handler and a wake-up for every exit cost every
execute something, a burst of a thousand of them a thousand wake-ups, and an event loop built on libuv
(uvloop) takes SIGCHLD over for itself. Without pidfds, the periodic sweeps reap, and go on while adopted
processes live.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Callable, Iterable


from .. import system
from .process_table import Descendants

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and an idle sidecar never needs it
    import psutil

log = logging.getLogger(__name__)

SWEEP_AFTER_EXIT = 0.05
"""Seconds to gather exits into one sweep: a thousand children finishing cost one walk of /proc."""
SWEEP_EVERY = 2.0
"""Seconds between full sweeps while children run."""
STRAY_SWEEP_EVERY = 0.1
"""Seconds between quick sweeps for strays while children run (a stray only matters if the sidecar is
SIGKILLed: a clean end stops strays by itself)."""
STRAY_SWEEP_SHARE = 0.02
"""The most of one CPU the quick sweeps may take; with very many processes they run less often."""


def become_subreaper() -> bool:
    problem = system.become_subreaper()
    if problem is not None:
        # Expected outside Linux (orphans go to init there; process groups still find them): not worth a warning.
        (log.warning if system.LINUX else log.debug)("cannot become a child subreaper: %s", problem)
    return problem is None


class OrphanWatch:
    """Reaps adopted processes when they exit, and reports strays (descendants outside every child's
    process group) to `on_stray`, so that the guardian can kill them should the sidecar die, and to
    `on_stray_gone` (by pid) once a full sweep no longer finds them, so that the guardian forgets them."""

    def __init__(
        self,
        is_started_child: Callable[[int], bool],
        groups: Callable[[], set[int]],
        on_stray: Callable[[psutil.Process], None],
        on_stray_gone: Callable[[int], None],
        exclude: Iterable[int] = (),
    ) -> None:
        self._is_started_child = is_started_child
        self._groups = groups
        self._on_stray = on_stray
        self._on_stray_gone = on_stray_gone
        self._exclude = set(exclude)
        self._strays: set[int] = set()
        self._scheduled: asyncio.TimerHandle | None = None
        self._quick: asyncio.TimerHandle | None = None
        self._adoption_check: asyncio.TimerHandle | None = None
        self._watched: dict[int, int] = {}
        """Adopted processes, alive when last seen -> a pidfd that becomes readable when they exit."""

    def close(self) -> None:
        """No more sweeps or watches (the session is over)."""
        for handle in (self._scheduled, self._quick, self._adoption_check):
            if handle is not None:
                handle.cancel()
        self._scheduled = self._quick = self._adoption_check = None
        loop = asyncio.get_running_loop()
        for fd in self._watched.values():
            loop.remove_reader(fd)
            os.close(fd)
        self._watched.clear()

    def children_started(self) -> None:
        """A child started: full sweeps, and quick sweeps for strays, run until no child is left."""
        if self._scheduled is None and self._groups():
            self._schedule(SWEEP_EVERY)
        if self._quick is None and self._groups():
            self._quick = asyncio.get_running_loop().call_later(STRAY_SWEEP_EVERY, self._quick_sweep)

    def _quick_sweep(self) -> None:
        self._quick = None
        groups = self._groups()
        if not groups:
            return
        started = time.perf_counter()
        # The sidecar's own tree where the kernel lists children (a few reads for a few children), else every
        # process's stat: with one child running, the sweeps cost 2% of a CPU that way on a machine of 70 processes.
        links = system.descendant_links(frozenset(self._exclude))
        if links is None:
            links = system.process_links()
        if links is None:
            return  # not Linux: the full sweep alone
        table = Descendants(self._exclude, links)
        for pid in table.pids:
            if pid not in self._strays and table.group(pid) not in groups:
                process = table.process(pid)
                if process is not None:  # else gone meanwhile
                    self._report(process)
        cost = time.perf_counter() - started
        delay = max(STRAY_SWEEP_EVERY, cost / STRAY_SWEEP_SHARE)
        self._quick = asyncio.get_running_loop().call_later(delay, self._quick_sweep)

    def _report(self, process: psutil.Process) -> None:
        self._strays.add(process.pid)
        self._on_stray(process)

    def child_finished(self) -> None:
        """A child finished: what it left behind is adopted now; look soon, once for a burst."""
        if self._adoption_check is None:
            self._adoption_check = asyncio.get_running_loop().call_later(SWEEP_AFTER_EXIT, self._check_adopted)

    def _check_adopted(self) -> None:
        """Sweep now if the sidecar has a child it did not start and does not watch yet. A cheap look at the
        sidecar's own children (system.own_children; None: not Linux, sweep) instead of the full sweep after
        every exit: a thousand executes a second would otherwise each pay a share of a full sweep for nothing."""
        self._adoption_check = None
        children = system.own_children()
        if children is not None and not any(
            pid not in self._watched and pid not in self._exclude and not self._is_started_child(pid) for pid in children
        ):
            return
        self._schedule(0)

    def _watch(self, pid: int) -> bool:
        """Reap adopted `pid` as soon as it exits; whether a pidfd watches it."""
        if pid in self._watched:
            return True
        fd = system.pidfd(pid)
        if fd < 0:
            return False
        self._watched[pid] = fd
        asyncio.get_running_loop().add_reader(fd, self._adopted_exited, pid)
        return True

    def _adopted_exited(self, pid: int) -> None:
        fd = self._watched.pop(pid)
        asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)
        system.reap(pid)  # ours alone to reap (nobody else waits for an adopted pid): it cannot be reused before
        self.child_finished()  # its own children are adopted now

    def _schedule(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduled is not None:
            if self._scheduled.when() <= loop.time() + delay:
                return
            self._scheduled.cancel()
        self._scheduled = loop.call_later(delay, self._sweep)

    def _sweep(self) -> None:
        import psutil

        self._scheduled = None
        groups = self._groups()
        me = os.getpid()
        alive = set()
        unwatched = False
        table = Descendants(self._exclude)
        for process in table:
            try:
                adopted = process.ppid() == me and not self._is_started_child(process.pid)
                if process.status() == psutil.STATUS_ZOMBIE:
                    if adopted and process.pid not in self._watched:
                        system.reap(process.pid)  # adopted, and dead: ours to reap
                    continue
                alive.add(process.pid)
                if adopted and not self._watch(process.pid):
                    unwatched = True
                group = table.group(process.pid)  # the snapshot's where it has one, as the quick sweep's
                if process.pid not in self._strays and group is not None and group not in groups:
                    self._report(process)
            except (psutil.Error, OSError):
                continue
        for pid in self._strays - alive:
            self._on_stray_gone(pid)
        self._strays &= alive
        if groups or self._watched or unwatched:
            self._schedule(SWEEP_EVERY)
