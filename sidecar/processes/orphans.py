"""Descendants the sidecar did not start directly: adopt them, reap them, and keep track of them.

The sidecar makes itself a child subreaper (Linux PR_SET_CHILD_SUBREAPER): a descendant whose parent
dies is re-parented to the sidecar instead of to init. So every process of every tree stays findable
under the sidecar (psutil), a setsid'd daemon included, and is stopped when the session ends. The price
is that the sidecar must reap those adopted processes; asyncio waits only for the children it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Callable, Iterable

import psutil

from .. import system
from .process_table import Descendants

log = logging.getLogger(__name__)

SWEEP_AFTER_SIGCHLD = 0.05
"""Seconds to gather SIGCHLDs into one sweep: a thousand children exiting cost one walk of /proc."""
SWEEP_EVERY = 2.0
"""Seconds between sweeps for strays while children run (a stray only matters if the sidecar is SIGKILLed)."""


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

    def start(self) -> None:
        """Sweep every SWEEP_EVERY seconds while children run (call child_signalled on each SIGCHLD too)."""
        self._schedule(SWEEP_EVERY)

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
                    self._strays.add(process.pid)
                    self._on_stray(process)
            except (psutil.Error, OSError):
                continue
        self._strays &= alive
        if groups:
            self._schedule(SWEEP_EVERY)
