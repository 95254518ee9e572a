"""A child on pipes: what spawn (without pty) and execute start.

The child is finished when it has exited AND its stdout and stderr have reached end of file, so `exit`
comes after every byte of output, even when a descendant holds the pipes after the child is gone. The pipes
are read and written on the event loop directly (descriptor_io), as the terminal is: the shape of CPython's
asyncio/base_subprocess.py, without a transport, protocol and task per pipe.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
from typing import Callable

from .. import system
from ..wire.errors import SidecarError, stdin_unavailable
from .child import Child, OutputSink
from .descriptor_io import PipeReader, QueuedWriter
from .exit_watch import watch_exit
from .launch import LaunchSpec


class PipeChild(Child):
    def __init__(self, stdout: OutputSink, stderr: OutputSink, *, stdin_pipe: bool, piece_bytes: int = 0) -> None:
        """piece_bytes: the size of the pieces the output is wanted in (the session's notificationBytes); the
        pipes are made to hold that much where the system allows, so that one read can fill one piece."""
        super().__init__()
        self._sinks = (stdout, stderr)
        self._piece_bytes = piece_bytes
        self._readers: list[PipeReader] = []
        self._popen: subprocess.Popen | None = None
        self._stdin_fd = -1
        self._stdin: QueuedWriter | None = None
        # stdin: "null" (never had a pipe), "open", "closing" (closeStdin asked), "closed", "broken" (the
        # reading end went away: EPIPE, or the child exited)
        self._stdin_state = "open" if stdin_pipe else "null"
        self._stdin_closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def start(self, spec: LaunchSpec) -> None:
        """Start the program in a new session (its own process group); OSError if it cannot start, its filename
        the program or working directory that failed (launch.spawn_failure names them as the request did).
        With a scope: the very file and directory it checked (LaunchSpec.executable, start_cwd). Nothing in
        here awaits, so the supervisor has the child in its table (on_started) before the loop could see it
        exit."""
        executable, keep_fds = spec.executable()
        ours: list[int] = []  # os.pipe's ends are close-on-exec: the child gets only what Popen dup2s onto 0, 1, 2
        theirs: list[int] = []
        try:
            stdin: int = subprocess.DEVNULL
            if spec.stdin_pipe:
                stdin, stdin_fd = os.pipe()
                theirs.append(stdin)
                ours.append(stdin_fd)
            outputs: list[tuple[int, int, int]] = []  # stdout's and stderr's (our end, the child's, capacity)
            for _ in range(2):
                read_end, write_end = os.pipe()
                ours.append(read_end)
                theirs.append(write_end)
                capacity = system.PIPE_BYTES
                if self._piece_bytes > capacity:
                    capacity = system.widen_pipe(read_end, self._piece_bytes)
                outputs.append((read_end, write_end, capacity))
            self._popen = subprocess.Popen(
                [spec.program, *spec.args],
                executable=executable,
                pass_fds=keep_fds,
                stdin=stdin,
                stdout=outputs[0][1],
                stderr=outputs[1][1],
                cwd=spec.start_cwd,
                env=spec.env,
                start_new_session=True,
            )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            # Only the child may hold its ends: a pipe reads end of file once no writer is left.
            for fd in theirs:
                os.close(fd)
        for fd in ours:
            os.set_blocking(fd, False)
        if spec.stdin_pipe:
            self._stdin_fd = ours[0]
            self._stdin = QueuedWriter(self._stdin_fd, self._stdin_failed)
        self._readers = [
            PipeReader(read_end, sink.feed, self._output_ended(sink), capacity)
            for (read_end, _, capacity), sink in zip(outputs, self._sinks)
        ]
        self.pid = self._popen.pid
        self._announce_started()
        watch_exit(self._popen, self._exited)
        self._set_reading(not self._pause_reasons)

    # -- output -----------------------------------------------------------------------------------------

    def _set_reading(self, reading: bool) -> None:
        if self.finished.done():
            return
        for reader in self._readers:
            reader.set_reading(reading)

    def _output_ended(self, sink: OutputSink) -> Callable[[], None]:
        def ended() -> None:
            sink.close()
            self._finish_if_done()

        return ended

    # -- exit -------------------------------------------------------------------------------------------

    def _exited(self, returncode: int) -> None:
        self.returncode = returncode
        # Nobody can use the stdin of an exited child; a descendant that inherited it must not keep the
        # child's exit pending, so close our end now. Only the output pipes are waited for.
        self._lose_stdin()
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self.exited and all(reader.ended for reader in self._readers) and not self.finished.done():
            self._announce_finished()

    # -- stdin ------------------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Resolves once every byte is in the child's pipe: the child's own reading is the host's flow control."""
        if self._stdin_state != "open" or self._stdin is None:
            raise self._stdin_error(self._stdin_state)
        if data:
            await self._stdin.write(data)

    async def close_stdin(self) -> None:
        """Close stdin after pending writes; resolves once the pipe is closed. Closing twice is harmless."""
        if self._stdin_state == "open" and self._stdin is not None:
            self._stdin_state = "closing"
            self._stdin.when_flushed(self._lose_stdin)  # not awaited here: a cancelled request still closes it
        if self._stdin_state != "null":
            await asyncio.shield(self._stdin_closed)

    def _stdin_failed(self, exc: OSError) -> SidecarError:
        # The reading end went away (EPIPE): the child closed its stdin or exited. Later writes are refused.
        self._lose_stdin()
        return self._stdin_error("broken")

    def _lose_stdin(self) -> None:
        """Close our end of stdin: asked for (closing -> closed), or because the child can no longer read it
        (-> broken); writes still queued fail. Harmless twice."""
        if self._stdin_fd < 0:
            return
        self._stdin_state = "closed" if self._stdin_state == "closing" else "broken"
        assert self._stdin is not None
        self._stdin.fail(self._stdin_error("broken"))
        os.close(self._stdin_fd)
        self._stdin_fd = -1
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
        if self._popen is None or self.finished.done():
            return
        if not self.exited:
            system.signal_process(self.pid, signal.SIGKILL)
        self._lose_stdin()
        for reader in self._readers:
            reader.end()
