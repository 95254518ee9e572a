"""A child of the sidecar, whatever it runs on: what the supervisor, the handlers and introspection use.

Two kinds exist: a child on pipes (pipe_child.PipeChild, what spawn and execute start) and a child on a
pseudo-terminal (terminal_child.TerminalChild, spawn with pty). Each starts itself, reads its own output
into its sinks and says when it is finished: exited AND every byte of its output read, which is what lets
the sidecar promise that `exit` comes after every byte.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

from ..wire.errors import SidecarError
from .launch import LaunchSpec


class OutputSink(Protocol):
    def feed(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class Child:
    """What every kind of child offers the supervisor and the handlers: a pid, callbacks when it started and
    when it is finished (exited, and its output all read), its exit status, and reading its output paused
    for as long as any reason holds (the spawn response not yet out, the host not reading)."""

    def __init__(self) -> None:
        self.pid = 0
        self.returncode: int | None = None
        self.finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._started: list[Callable[["Child"], None]] = []
        self._finishing: list[Callable[["Child"], None]] = []
        self._pause_reasons: set[str] = set()

    def on_started(self, callback: Callable[["Child"], None]) -> None:
        """Called with the pid known, before any output or exit is delivered."""
        self._started.append(callback)

    def on_finished(self, callback: Callable[["Child"], None]) -> None:
        """Called once, synchronously, when the child has exited and all of its output has been read."""
        self._finishing.append(callback)

    @property
    def exit_status(self) -> tuple[int | None, int | None]:
        """(code, signal): code is None when a signal ended the child, signal is None otherwise."""
        assert self.returncode is not None
        if self.returncode < 0:
            return None, -self.returncode
        return self.returncode, None

    @property
    def exited(self) -> bool:
        """The process itself is gone (reaped); its output may still be unread (pipes that descendants
        hold, a terminal not yet read empty)."""
        return self.returncode is not None

    def pause_reading(self, reason: str) -> None:
        """Stop reading the child's output (it blocks once the pipe or terminal is full) until every reason
        is lifted."""
        if not self._pause_reasons:
            self._set_reading(False)
        self._pause_reasons.add(reason)

    def resume_reading(self, reason: str) -> None:
        self._pause_reasons.discard(reason)
        if not self._pause_reasons:
            self._set_reading(True)

    # -- what each kind provides ---------------------------------------------------------------------------

    async def start(self, spec: LaunchSpec) -> None:
        """Start the program; OSError if it cannot start. on_started callbacks run, with the pid known,
        before the event loop can see the child exit."""
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        """Resolves once every byte is in the child's stdin (its pipe, or its terminal)."""
        raise NotImplementedError

    async def close_stdin(self) -> None:
        raise NotImplementedError

    def abandon(self) -> None:
        """Stop reading the child's output even if a descendant still holds the other end, and make it
        finish. Used only when stopping the session and a tree would not die."""
        raise NotImplementedError

    @property
    def terminal_size(self) -> tuple[int, int] | None:
        """(cols, rows) of the child's terminal; None for a child on pipes."""
        return None

    def resize(self, cols: int, rows: int) -> None:
        """Set the size of the child's terminal; NotATerminal for a child on pipes."""
        raise SidecarError(
            "NotATerminal",
            f"Process {self.pid} was spawned without pty; it has no terminal to resize.",
            {"pid": self.pid},
        )

    def _set_reading(self, reading: bool) -> None:
        raise NotImplementedError

    def _announce_started(self) -> None:
        for callback in self._started:
            callback(self)

    def _announce_finished(self) -> None:
        for callback in self._finishing:
            callback(self)
        assert self.returncode is not None
        self.finished.set_result(self.returncode)
