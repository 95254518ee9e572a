"""Descendants the sidecar did not start directly: adopt them, reap them, and keep track of them.

The sidecar makes itself a child subreaper (Linux PR_SET_CHILD_SUBREAPER): a descendant whose parent
dies is re-parented to the sidecar instead of to init. So every process of every tree stays findable
under the sidecar (psutil), a setsid'd daemon included, and is stopped when the session ends. The price
is that the sidecar must reap those adopted processes; asyncio waits only for the children it started.

A descendant that leaves its child's process group (a daemon's setsid) is out of reach of the guardian's
killpg should the sidecar be SIGKILLed, until the guardian is told of it. So while children run, a quick
sweep (one cheap read of the process table, Linux) looks for such strays every STRAY_SWEEP_EVERY seconds,
or less often on a machine with very many processes (the sweep stays under STRAY_SWEEP_SHARE of a CPU).
That is the window that remains: a stray that appears less than that before a SIGKILL of the sidecar can
survive it. The slower full sweep (psutil) also reaps adopted processes, and runs at once after SIGCHLDs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Callable, Iterable

import psutil

from .. import system
from .process_table import Descendants

log = logging.getLogger(__name__)

SWEEP_AFTER_SIGCHLD = 0.05
"""Seconds to gather SIGCHLDs into one sweep: a thousand children exiting cost one walk of /proc."""
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
        log.warning("cannot become a child subreaper: %s", problem)
    return problem is None


class OrphanWatch:
    """Reaps adopted processes when they exit, and reports strays (descendants outside every child's
    process group) to `on_stray`, so that the guardian can kill them should the sidecar die."""

    def __init__(
        self,
        is_started_child: Callable[[int], bool],
        groups: Callable[[], set[int]],
        on_stray: Callable[[psutil.Process], None],
        exclude: Iterable[int] = (),
    ) -> None:
        self._is_started_child = is_started_child
        self._groups = groups
        self._on_stray = on_stray
        self._exclude = set(exclude)
        self._strays: set[int] = set()
        self._scheduled: asyncio.TimerHandle | None = None
        self._quick: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Sweep every SWEEP_EVERY seconds while children run (call child_signalled on each SIGCHLD too),
        and quickly for strays every STRAY_SWEEP_EVERY (call children_started when a child starts)."""
        self._schedule(SWEEP_EVERY)
        self.children_started()

    def children_started(self) -> None:
        """A child started: quick sweeps for strays run until no child is left."""
        if self._quick is None and self._groups():
            self._quick = asyncio.get_running_loop().call_later(STRAY_SWEEP_EVERY, self._quick_sweep)

    def _quick_sweep(self) -> None:
        self._quick = None
        groups = self._groups()
        if not groups:
            return
        started = time.perf_counter()
        links = system.process_links()
        if links is None:
            return  # not Linux: the full sweep alone
        me = os.getpid()
        below: dict[int, list[int]] = {}
        for pid, (parent, _) in links.items():
            below.setdefault(parent, []).append(pid)
        pending = [pid for pid in below.get(me, ()) if pid not in self._exclude]
        while pending:
            pid = pending.pop()
            if links[pid][1] not in groups and pid not in self._strays:
                try:
                    self._report(psutil.Process(pid))
                except psutil.Error:
                    pass  # gone meanwhile
            pending.extend(below.get(pid, ()))
        cost = time.perf_counter() - started
        delay = max(STRAY_SWEEP_EVERY, cost / STRAY_SWEEP_SHARE)
        self._quick = asyncio.get_running_loop().call_later(delay, self._quick_sweep)

    def _report(self, process: psutil.Process) -> None:
        self._strays.add(process.pid)
        self._on_stray(process)

    def child_signalled(self) -> None:
        """A SIGCHLD: some descendant ended or stopped; sweep soon, once for a burst."""
        self._schedule(SWEEP_AFTER_SIGCHLD)

    def _schedule(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduled is not None:
            if self._scheduled.when() <= loop.time() + delay:
                return
            self._scheduled.cancel()
        self._scheduled = loop.call_later(delay, self._sweep)

    def _sweep(self) -> None:
        self._scheduled = None
        groups = self._groups()
        me = os.getpid()
        alive = set()
        for process in Descendants(self._exclude):
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    if process.ppid() == me and not self._is_started_child(process.pid):
                        system.reap(process.pid)  # adopted, and dead: ours to reap
                    continue
                alive.add(process.pid)
                if process.pid not in self._strays and system.process_group(process.pid) not in groups:
                    self._report(process)
            except (psutil.Error, OSError):
                continue
        self._strays &= alive
        if groups:
            self._schedule(SWEEP_EVERY)
