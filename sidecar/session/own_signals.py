"""The signals the sidecar handles itself (SIGTERM, SIGINT, SIGHUP: end the session), run on the event
loop, none ever lost.

Why not asyncio's loop.add_signal_handler: it learns which signal came from the bytes the C-level handler
writes into the loop's self-pipe, one byte per signal. A Unix socket charges each one-byte write a whole
buffer's overhead, so a few hundred signals fill it: when a thousand children end at once, the SIGCHLD
bytes that do not fit are dropped, each with a traceback on stderr ("Exception ignored when trying to
write to the signal wakeup fd"), and a SIGTERM whose byte is dropped in that moment is never handled.

Here each signal gets a Python-level handler, which CPython always runs in the main thread however full
any buffer is; it hands the callback to the loop with call_soon_threadsafe. The wakeup descriptor only
has to wake the loop from epoll, and a full buffer is already readable, so the bytes that do not fit are
dropped quietly (warn_on_full_buffer=False) and nothing depends on them.

SIGCHLD is not among them: the orphan watch (processes/orphans.py) learns of exits without it.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from typing import Any, Callable

from .. import system


class SignalHandlers:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._previous: dict[int, Any] = {}
        # The wakeup descriptor: epoll returns when a signal writes to it (or finds it already full).
        self._wakeup_read, self._wakeup_write = socket.socketpair()
        self._wakeup_read.setblocking(False)
        self._wakeup_write.setblocking(False)
        loop.add_reader(self._wakeup_read.fileno(), self._drain)
        signal.set_wakeup_fd(self._wakeup_write.fileno(), warn_on_full_buffer=False)

    def add(self, signum: int, callback: Callable[..., Any], *args: Any) -> None:
        """Call callback(*args) on the loop for every delivery of `signum` (coalesced, as the kernel does)."""
        loop = self._loop

        def handler(_signum: int, _frame: Any) -> None:
            # Runs between two bytecodes of whatever the main thread was doing: touch no loop state but
            # the thread-safe queue.
            loop.call_soon_threadsafe(callback, *args)

        self._previous.setdefault(signum, signal.signal(signum, handler))
        system.restart_interrupted_calls(signum)

    def close(self, ignore: tuple[int, ...] = ()) -> None:
        """Back to the handlers there were before, but `ignore`d signals are ignored from now on; no more
        callbacks."""
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if signum in ignore else previous)
        self._previous.clear()
        signal.set_wakeup_fd(-1)
        self._loop.remove_reader(self._wakeup_read.fileno())
        self._wakeup_read.close()
        self._wakeup_write.close()

    def _drain(self) -> None:
        try:
            while self._wakeup_read.recv(4096):
                pass
        except BlockingIOError:
            pass
