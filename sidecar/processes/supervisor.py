"""The table of live children, and the one place that starts and stops them.

Every child starts as the leader of a new session (so its own process group), so that a signal can reach
its whole tree and a Ctrl-C in the host's terminal does not reach it behind the sidecar's back.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple


from ..wire.errors import SidecarError, errno_name
from .child import Child
from .guardian import Guardian
from .launch import LaunchSpec, spawn_failure
from .process_table import Descendants
from .signals import signal_one, signal_trees

if TYPE_CHECKING:  # imported where used: psutil costs start-up, and an idle sidecar never needs it
    import psutil

log = logging.getLogger(__name__)

FORCE_AFTER_MS = 2000
"""How long a tree gets between SIGTERM and SIGKILL, unless the request says otherwise."""
ABANDON_AFTER_MS = 1000
"""After SIGKILL, how long the session waits for pipes held by escaped descendants before closing them."""

Authorize = Callable[[LaunchSpec], LaunchSpec]
"""The scope's check: the spec to run, or ScopeDenied."""


class Launched(NamedTuple):
    """How a spawned child was started, for `list`."""

    child: Child
    spec: LaunchSpec
    cwd: str
    started_at_ms: int


class Supervisor:
    def __init__(
        self, max_children: int, guardian: Guardian, exclude: Iterable[int] = (), authorize: Authorize | None = None
    ) -> None:
        self.max_children = max_children
        self._authorize = authorize
        self._guardian = guardian
        self._exclude = set(exclude)  # descendants that are not children's trees (the guardian)
        self.closing = False
        self._live: dict[int, Child] = {}
        self._addressable: set[int] = set()
        self._launched: dict[int, Launched] = {}
        self._starting = 0
        self._displaced: dict[Child, Child] = {}  # a new child -> the finished-but-for-its-pipes one it displaced
        self.on_child_started: Callable[[], None] = lambda: None
        """Called whenever a child has started (the orphan watch sweeps for strays while children run)."""
        self.on_child_finished: Callable[[], None] = lambda: None
        """Called whenever a child has finished (the orphan watch looks for what it left behind)."""
        self.before_first_child: Callable[[], object] | None = None
        """Called once, before the first child starts (the sidecar becomes a subreaper then, not at start-up:
        prctl goes through ctypes, whose import the first answer need not wait for)."""

    async def start(self, spec: LaunchSpec, child: Child, *, addressable: bool) -> None:
        """Start `child`; it is in the table from the moment its pid exists until it has finished."""
        if self._authorize is not None:
            spec = self._authorize(spec)  # ScopeDenied: nothing is started
        try:
            await self._start(spec, child, addressable=addressable)
        finally:
            spec.release()  # what the scope held open for this start only (the directory it checked)

    async def _start(self, spec: LaunchSpec, child: Child, *, addressable: bool) -> None:
        if self.closing:
            raise SidecarError("ShuttingDown", f"Cannot start {spec.program!r}: the sidecar is shutting down.")
        if self.before_first_child is not None:
            prepare, self.before_first_child = self.before_first_child, None
            prepare()
        if len(self._live) + self._starting >= self.max_children:
            raise SidecarError(
                "SpawnFailed",
                f"Cannot start {spec.program!r}: the sidecar already runs {self.max_children} children "
                "(--max-children).",
                {"program": spec.program, "cwd": spec.cwd, "path": None, "errno": errno.EAGAIN,
                 "code": errno_name(errno.EAGAIN)},
            )
        child.on_started(self._register)
        child.on_finished(self._unregister)
        started_at = time.time_ns() // 1_000_000  # ms since the epoch, as `list` reports it
        self._starting += 1
        try:
            await child.start(spec)  # registered (on_started) before the loop can see it exit
        except OSError as exc:
            raise spawn_failure(spec, exc) from None
        finally:
            self._starting -= 1
        displaced = self._displaced.pop(child, None)
        if displaced is not None:
            await displaced.finished  # its exit goes out before anything names the new child
        if addressable:
            self._addressable.add(child.pid)
            if not child.finished.done():
                cwd = os.path.abspath(spec.cwd) if spec.cwd is not None else os.getcwd()
                self._launched[child.pid] = Launched(child, spec, cwd, started_at)
        # If the session began to end while this child was starting, stop_all() waited for the start and
        # stops it with the others: SIGTERM, then SIGKILL after FORCE_AFTER_MS, as PROTOCOL.md says.

    def _register(self, child: Child) -> None:
        previous = self._live.get(child.pid)
        if previous is not None:
            self._displace(previous, child)
        self._live[child.pid] = child
        self._guardian.watch_group(child.pid)
        self.on_child_started()

    def _displace(self, previous: Child, child: Child) -> None:
        """The kernel gave a new child the pid of one still in the table. That one has exited and been
        reaped (else the pid would not be free), and only a descendant that left its process group still
        holds its output pipes. The wire names children by pid, so two cannot share one: the earlier child
        is finished now (its pipes closed, its `exit` sent before the new child's spawn answer) and what the
        descendant writes later is lost. With pid_max at 32768 a long session wraps around in minutes."""
        log.warning(
            "pid %d was reused by a new child while a descendant of the earlier one still held its output; "
            "the earlier child's exit is reported now", child.pid,
        )
        assert previous.exited, previous
        self._addressable.discard(child.pid)  # until start() makes the new child addressable, if it is
        self._launched.pop(child.pid, None)
        self._displaced[child] = previous
        previous.abandon()

    def _unregister(self, child: Child) -> None:
        if self._live.get(child.pid) is not child:
            return  # displaced: its pid is a new child's now
        del self._live[child.pid]
        self._addressable.discard(child.pid)
        self._launched.pop(child.pid, None)
        self._guardian.forget_group(child.pid)
        self.on_child_finished()

    def started(self, pid: int) -> bool:
        """Whether the sidecar waits for `pid` (asyncio, or a terminal child's own watch), or might: while a
        start is under way, its pid is not known yet."""
        return self._starting > 0 or pid in self._live

    def groups(self) -> set[int]:
        """The process groups of the live children (each child leads its own)."""
        return set(self._live)

    def spawned(self) -> list[Launched]:
        """The live children the host may address, oldest first."""
        return list(self._launched.values())

    @property
    def excluded(self) -> frozenset[int]:
        """Descendants of the sidecar that belong to no child's tree (the guardian)."""
        return frozenset(self._exclude)

    def find(self, pid: int) -> Child:
        """A live child that the host may address (spawned, not executed), or UnknownProcess."""
        child = self._live.get(pid) if pid in self._addressable else None
        if child is None:
            raise SidecarError(
                "UnknownProcess",
                f"No live process with pid {pid} was spawned by this sidecar.",
                {"pid": pid},
            )
        return child

    def stop(self, child: Child, sig: int, *, tree: bool = True, force_after_ms: int | None) -> None:
        """Send `sig`; if the child has not finished `force_after_ms` later, SIGKILL it (and its tree)."""
        self._stop([child], sig, tree=tree, force_after_ms=force_after_ms)

    def _stop(self, children: list[Child], sig: int, *, tree: bool, force_after_ms: int | None) -> None:
        """stop() for many children at once: one walk of the process table, one timer."""
        children = [child for child in children if not child.finished.done()]
        if not children:
            return
        if tree:
            signal_trees([(child.pid, child.exited) for child in children], sig)
        else:
            for child in children:
                if not child.exited:
                    signal_one(child.pid, sig)
        if force_after_ms is not None and sig != signal.SIGKILL:
            force = functools.partial(self._stop, children, signal.SIGKILL, tree=tree, force_after_ms=None)
            timer = asyncio.get_running_loop().call_later(force_after_ms / 1000, force)
            unfinished = len(children)

            def one_finished(_: asyncio.Future) -> None:
                nonlocal unfinished
                unfinished -= 1
                if not unfinished:
                    timer.cancel()

            for child in children:
                child.finished.add_done_callback(one_finished)

    async def stop_all(self, force_after_ms: int = FORCE_AFTER_MS) -> None:
        """End every child tree, and every other descendant: SIGTERM, SIGKILL after force_after_ms, then
        close pipes that are still held."""
        self.closing = True
        while self._starting:
            await asyncio.sleep(0.005)
        children = list(self._live.values())
        strays = [p for p in Descendants(self._exclude) if p.pid not in self._live]
        if not children and not strays:
            return
        log.info("stopping %d child process tree(s) and %d other descendant(s)", len(children), len(strays))
        self._stop(children, signal.SIGTERM, tree=True, force_after_ms=force_after_ms)
        _signal_each(strays, signal.SIGTERM)
        finished = [child.finished for child in children]
        done, pending = await _wait_for(finished, strays, timeout=force_after_ms / 1000)
        if strays:
            _signal_each(strays, signal.SIGKILL)
        if pending:
            _, pending = await _wait_for(list(pending), [], timeout=ABANDON_AFTER_MS / 1000)
        if pending:
            stuck = [child for child in children if not child.finished.done()]
            log.warning(
                "closing the pipes of %s: a descendant outside the process group still holds them",
                ", ".join(str(child.pid) for child in stuck),
            )
            for child in stuck:
                child.abandon()
            await asyncio.wait(pending, timeout=ABANDON_AFTER_MS / 1000)


def _signal_each(processes: list[psutil.Process], sig: int) -> None:
    import psutil

    for process in processes:
        try:
            process.send_signal(sig)  # psutil checks the pid was not reused
        except psutil.Error:
            pass


async def _wait_for(
    futures: list[asyncio.Future], processes: list[psutil.Process], timeout: float
) -> tuple[set, set]:
    """Wait until the futures are done and the processes gone, or the timeout passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    done: set = set()
    pending: set = set(futures)
    if pending:
        done, pending = await asyncio.wait(pending, timeout=timeout)
    while any(_running(p) for p in processes) and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return done, pending


def _running(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
