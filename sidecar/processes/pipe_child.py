"""A child on pipes, as asyncio sees it: its pipes, its stdin flow control, its end.

The child is finished when it has exited AND its stdout and stderr reached end of file: asyncio's
subprocess transport calls connection_lost only then (see CPython's asyncio/base_subprocess.py), so
`exit` comes after every byte of output.
"""

from __future__ import annotations

import asyncio
import errno
import subprocess
from typing import cast

from ..wire.errors import SidecarError, stdin_unavailable
from .child import Child, OutputSink
from .launch import LaunchSpec


class PipeChild(Child, asyncio.SubprocessProtocol):
    def __init__(self, stdout: OutputSink, stderr: OutputSink, *, stdin_pipe: bool) -> None:
        super().__init__()
        self._transport: asyncio.SubprocessTransport | None = None
        self._sinks = {1: stdout, 2: stderr}
        # stdin: "null" (never had a pipe), "open", "closing" (closeStdin asked), "closed", "broken" (the
        # reading end went away: EPIPE)
        self._stdin_state = "open" if stdin_pipe else "null"
        self._stdin_closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []

    async def start(self, spec: LaunchSpec) -> None:
        """Start the program in a new session (its own process group); OSError if it cannot start, its filename
        the program or working directory that failed (launch.spawn_failure names them as the request did).
        With a scope: the very file and directory it checked (LaunchSpec.executable, start_cwd)."""
        loop = asyncio.get_running_loop()
        # asyncio's own loop starts children with Popen, which can execute a path other than argv[0]; another
        # loop (uvloop's libuv) may not.
        executable, keep_fds = spec.executable(own_argv0=isinstance(loop, asyncio.BaseEventLoop))
        await loop.subprocess_exec(
            lambda: self,
            spec.program,
            *spec.args,
            stdin=subprocess.PIPE if spec.stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.start_cwd,
            env=spec.env,
            start_new_session=True,
            executable=executable,
            pass_fds=keep_fds,
        )

    # -- asyncio.SubprocessProtocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport
        self.pid = transport.get_pid()
        stdin = self._stdin_pipe()
        if stdin is not None:
            # Pause (and so block write()) whenever a byte is buffered: a write resolves only once its
            # bytes are in the pipe, which gives the host the child's own flow control.
            stdin.set_write_buffer_limits(high=0)
        if self._pause_reasons:
            self._set_reading(False)
        self._announce_started()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._sinks[fd].feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 0:
            self._stdin_lost(exc)
        else:
            self._sinks[fd].close()

    def process_exited(self) -> None:
        assert self._transport is not None
        self.returncode = self._transport.get_returncode()
        # Nobody can use the stdin of an exited child; a descendant that inherited it must not keep the
        # child's exit pending, so close our end now. Only the output pipes are waited for.
        stdin = self._stdin_pipe()
        if stdin is not None and not stdin.is_closing():
            stdin.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._announce_finished()
        assert self._transport is not None
        self._transport.close()

    def _stdin_pipe(self) -> asyncio.WriteTransport | None:
        assert self._transport is not None
        return cast("asyncio.WriteTransport | None", self._transport.get_pipe_transport(0))

    # -- output flow control ----------------------------------------------------------------------------

    def _set_reading(self, reading: bool) -> None:
        if self._transport is None or self.finished.done():
            return
        for fd in (1, 2):
            pipe = self._transport.get_pipe_transport(fd)
            if pipe is not None:
                pipe.resume_reading() if reading else pipe.pause_reading()  # type: ignore[attr-defined]

    # -- stdin ------------------------------------------------------------------------------------------

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def write(self, data: bytes) -> None:
        """Resolves once every byte is in the child's pipe."""
        pipe = self._open_stdin()
        if not data:
            return
        pipe.write(data)
        if pipe.is_closing():
            # The write failed at once: the reading end is gone.
            raise self._stdin_error("broken")
        if self._write_paused:
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter

    async def close_stdin(self) -> None:
        """Close stdin after pending writes; resolves once the pipe is closed. Closing twice is harmless."""
        if self._stdin_state == "open":
            self._stdin_state = "closing"
            stdin = self._stdin_pipe()
            if stdin is not None:
                stdin.close()
        if self._stdin_state != "null":
            await asyncio.shield(self._stdin_closed)

    def _open_stdin(self) -> asyncio.WriteTransport:
        if self._stdin_state != "open":
            raise self._stdin_error(self._stdin_state)
        stdin = self._stdin_pipe()
        if stdin is None or stdin.is_closing():
            raise self._stdin_error("closed")
        return stdin

    def _stdin_lost(self, exc: Exception | None) -> None:
        # Closed by closeStdin, or else the reading end went away (the child closed it, or exited).
        self._stdin_state = "closed" if self._stdin_state == "closing" else "broken"
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(self._stdin_error("broken"))
        if not self._stdin_closed.done():
            self._stdin_closed.set_result(None)

    def _stdin_error(self, state: str) -> SidecarError:
        pid = self.pid
        if state == "null":
            return stdin_unavailable(pid, "null", f"Process {pid} was spawned with stdin null; it has no stdin to write to.")
        if state == "broken":
            why = "exited" if self.exited else "closed its stdin"
            return stdin_unavailable(
                pid, "EPIPE", f"Process {pid} {why} before reading the data written to it (EPIPE).", errno.EPIPE
            )
        return stdin_unavailable(pid, "closed", f"The stdin of process {pid} is closed.")

    # -- last resort ------------------------------------------------------------------------------------

    def abandon(self) -> None:
        """Close our ends of the pipes even though a descendant may still hold them, and SIGKILL the child
        if it still runs."""
        if self._transport is not None and not self.finished.done():
            self._transport.close()
