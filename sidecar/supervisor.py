"""The table of live children, and the one place that starts and stops them.

Every child starts as the leader of a new session (so its own process group), so that a signal can reach
its whole tree and a Ctrl-C in the host's terminal does not reach it behind the sidecar's back.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import signal
import subprocess

from .child import ChildProcess
from .errors import SidecarError, errno_name
from .launch import LaunchSpec, spawn_failure
from .signals import signal_one, signal_tree

log = logging.getLogger(__name__)

FORCE_AFTER_MS = 2000
"""How long a tree gets between SIGTERM and SIGKILL, unless the request says otherwise."""
ABANDON_AFTER_MS = 1000
"""After SIGKILL, how long the session waits for pipes held by escaped descendants before closing them."""


class Supervisor:
    def __init__(self, max_children: int) -> None:
        self.max_children = max_children
        self.closing = False
        self._live: dict[int, ChildProcess] = {}
        self._addressable: set[int] = set()
        self._starting = 0

    def __len__(self) -> int:
        return len(self._live)

    async def start(self, spec: LaunchSpec, child: ChildProcess, *, addressable: bool) -> None:
        """Start `child`; it is in the table from the moment its pid exists until it has finished."""
        if self.closing:
            raise SidecarError("ShuttingDown", f"Cannot start {spec.program!r}: the sidecar is shutting down.")
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
        loop = asyncio.get_running_loop()
        self._starting += 1
        try:
            await loop.subprocess_exec(
                lambda: child,
                spec.program,
                *spec.args,
                stdin=subprocess.PIPE if spec.stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=spec.cwd,
                env=spec.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise spawn_failure(spec, exc) from None
        finally:
            self._starting -= 1
        if addressable:
            self._addressable.add(child.pid)
        if self.closing:
            # The session began to end while this child was starting: it must not outlive it.
            self.stop(child, signal.SIGKILL, force_after_ms=None)

    def _register(self, child: ChildProcess) -> None:
        self._live[child.pid] = child

    def _unregister(self, child: ChildProcess) -> None:
        self._live.pop(child.pid, None)
        self._addressable.discard(child.pid)

    def find(self, pid: int) -> ChildProcess:
        """A live child that the host may address (spawned, not executed), or UnknownProcess."""
        child = self._live.get(pid) if pid in self._addressable else None
        if child is None:
            raise SidecarError(
                "UnknownProcess",
                f"No live process with pid {pid} was spawned by this sidecar.",
                {"pid": pid},
            )
        return child

    def stop(self, child: ChildProcess, sig: int, *, tree: bool = True, force_after_ms: int | None) -> None:
        """Send `sig`; if the child has not finished `force_after_ms` later, SIGKILL it (and its tree)."""
        if child.finished.done():
            return
        if tree:
            signal_tree(child.pid, sig, leader_reaped=child.exited)
        elif not child.exited:
            signal_one(child.pid, sig)
        if force_after_ms is not None and sig != signal.SIGKILL:
            force = functools.partial(self.stop, child, signal.SIGKILL, tree=tree, force_after_ms=None)
            timer = asyncio.get_running_loop().call_later(force_after_ms / 1000, force)
            child.finished.add_done_callback(lambda _: timer.cancel())

    async def stop_all(self, force_after_ms: int = FORCE_AFTER_MS) -> None:
        """End every child tree: SIGTERM, SIGKILL after force_after_ms, then close pipes still held."""
        self.closing = True
        while self._starting:
            await asyncio.sleep(0.005)
        children = list(self._live.values())
        if not children:
            return
        log.info("stopping %d child process tree(s)", len(children))
        for child in children:
            self.stop(child, signal.SIGTERM, force_after_ms=force_after_ms)
        finished = [child.finished for child in children]
        _, pending = await asyncio.wait(finished, timeout=(force_after_ms + ABANDON_AFTER_MS) / 1000)
        if pending:
            stuck = [child for child in children if not child.finished.done()]
            log.warning(
                "closing the pipes of %s: a descendant outside the process group still holds them",
                ", ".join(str(child.pid) for child in stuck),
            )
            for child in stuck:
                child.abandon()
            await asyncio.wait(pending, timeout=ABANDON_AFTER_MS / 1000)
