"""One child on a pseudo-terminal: what `spawn` with `pty` starts.

The child gets a new session whose controlling terminal is the pty's slave side, on its stdin, stdout and
stderr; the sidecar keeps the master side. So the child sees a real terminal (isatty, a size, job control,
^C and ^Z), and its output, both streams merged as a terminal merges them, is read from the master.

Like PipeChild it is a Child (pid, callbacks, exit status, paused reading, write, close_stdin, abandon); it
adds a terminal_size and resize(). The terminal's own calls (openpty, its size, its attributes, taking it as
the controlling terminal) are sidecar.system's.

When it is finished: pipes give end of file when the last writer is gone; a pty master does not
(on Linux a read gives EIO once every slave descriptor is closed, and never if a background process keeps
one). A terminal goes away when its session leader does, so the child is finished once it has exited AND
the master has been read until it is empty: a read that finds nothing (EAGAIN) after the exit was seen, or
EIO. Linux pushes the tty's pending input buffers into the line discipline before a master read decides
that there is nothing (tty_buffer_flush_work in n_tty_read), and a write to the slave returns only once its
bytes are in those buffers, so every byte the child wrote before it exited is read before `exit` is sent
(node-pty #72 lost that tail by treating EIO as the end while the exit raced it). Then the master is closed,
which hangs the terminal up, as closing a terminal window does: what is left of the session reads end of file
and gets EIO on writes, and the foreground process group already got SIGHUP from the kernel when the leader
exited.

Windows has no pty in this sense; ConPTY (CreatePseudoConsole, through pywinpty) would be the way there,
with the console's input pipe for write, ResizePseudoConsole for resize and ^Z\r for end of file: a child
class beside this one. Not implemented.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import subprocess

from .. import system
from ..system.line_settings import LineSettings
from ..wire.errors import SidecarError, stdin_unavailable
from .child import Child, OutputSink
from .descriptor_io import QueuedWriter, Readiness
from .exit_watch import watch_exit
from .launch import LaunchSpec
from .line_discipline import TypedLine
from .output_sinks import CHUNK_BYTES

log = logging.getLogger(__name__)

PTY_SUPPORTED = system.TERMINALS

DEFAULT_TERM = "xterm-256color"
"""TERM for a child whose environment does not name one: what the common terminal widgets (xterm.js) emulate."""


def _environment(spec: LaunchSpec) -> dict[str, str] | None:
    env = spec.env
    if "TERM" in (os.environ if env is None else env):
        return env
    return {**(os.environ if env is None else env), "TERM": DEFAULT_TERM}


class TerminalChild(Child):
    def __init__(self, output: OutputSink, *, cols: int, rows: int) -> None:
        super().__init__()
        self._size = (cols, rows)
        self._loop = asyncio.get_running_loop()
        self._output = output
        self._master = -1
        self._popen: subprocess.Popen | None = None
        self._readable: Readiness | None = None
        self._output_ended = False
        self._writer: QueuedWriter | None = None
        self._line = TypedLine()

    # -- start -------------------------------------------------------------------------------------------

    async def start(self, spec: LaunchSpec) -> None:
        """Start the child on a new pty; OSError if it cannot start. Nothing in here awaits, so the
        supervisor has the child in its table (on_started) before the event loop could see it exit.

        Why Popen with a preexec_fn rather than pty.fork(): Popen reports a failed exec or chdir to the
        parent as an OSError naming the program or cwd (SpawnFailed needs that), resolves the program on the
        child's PATH and closes every other descriptor; pty.fork() would leave all that to hand-written code
        in the forked child. Taking the controlling terminal has no Popen option: system.take_terminal."""
        executable, keep_fds = spec.executable()  # with a scope: the file it checked
        master, slave = system.open_terminal(*self._size)
        try:
            self._popen = subprocess.Popen(
                [spec.program, *spec.args],
                executable=executable,
                pass_fds=keep_fds,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=spec.start_cwd,  # with a scope checking it: that very directory
                env=_environment(spec),
                start_new_session=True,
                preexec_fn=system.take_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            # Only the child may hold the slave: the master reads EIO once the child's side is all closed.
            os.close(slave)
        self._master = master
        os.set_blocking(master, False)
        self._readable = Readiness(master, self._read, writable=False)
        self._writer = QueuedWriter(master, self._write_failed)
        self.pid = self._popen.pid
        self._announce_started()
        watch_exit(self._popen, self._exited)
        self._set_reading(not self._pause_reasons)

    @property
    def terminal_size(self) -> tuple[int, int]:
        return self._size

    def resize(self, cols: int, rows: int) -> None:
        """Set the terminal's size; the kernel sends SIGWINCH to its foreground process group."""
        if self._master >= 0:
            system.resize_terminal(self._master, cols, rows)
        self._size = (cols, rows)

    # -- output ------------------------------------------------------------------------------------------

    @property
    def _reading(self) -> bool:
        return self._readable is not None and self._readable.on

    def _set_reading(self, reading: bool) -> None:
        if self._readable is None or self._master < 0 or self._output_ended or reading == self._readable.on:
            return
        self._readable.set(reading)
        if reading and self.exited:
            # The exit came while reading was paused: nothing may signal readability again (an empty
            # terminal whose session lives on), so look now.
            self._loop.call_soon(self._read)

    def _read(self) -> None:
        """Read what the terminal holds, up to one notification's worth, and end the output when due."""
        if not self._reading:
            return
        exited = self.exited  # before the reads: an exit seen after an empty read proves nothing
        chunks: list[bytes] = []
        size = 0
        ended = False
        empty = False
        while size < CHUNK_BYTES:
            try:
                data = os.read(self._master, CHUNK_BYTES)
            except BlockingIOError:
                empty = True
                break
            except OSError as exc:
                # EIO: every slave descriptor is closed (Linux). Anything else is not worth retrying.
                if exc.errno != errno.EIO:
                    log.warning("reading the terminal of process %d failed: %s", self.pid, exc)
                ended = True
                break
            if not data:  # end of file, as BSD and macOS report a closed slave
                ended = True
                break
            chunks.append(data)
            size += len(data)
        if chunks:
            # A terminal hands over at most a few KiB per read; one notification per read would be many.
            self._output.feed(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if ended or (empty and exited):
            self._end_output()

    def _end_output(self) -> None:
        if self._output_ended:
            return
        if self._readable is not None:
            self._readable.set(False)
        self._output_ended = True
        self._output.close()
        self._finish_if_done()

    # -- exit --------------------------------------------------------------------------------------------

    def _exited(self, returncode: int) -> None:
        self.returncode = returncode
        self._fail_writes("exited")
        if self._reading:
            self._loop.call_soon(self._read)
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if not (self.exited and self._output_ended) or self.finished.done():
            return
        self._announce_finished()
        self._close_master()

    def _close_master(self) -> None:
        if self._master < 0:
            return
        self._fail_writes("exited")
        if self._readable is not None:
            self._readable.set(False)
        os.close(self._master)  # hangs up the terminal for whatever is left in its session
        self._master = -1

    # -- input -------------------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Type `data` into the terminal; resolves once every byte is in it (the terminal's buffer is
        bounded, so a child that does not read holds the writer back, as a pipe does)."""
        if self.exited or self._master < 0:
            raise self._stdin_error("exited")
        if not data:
            return
        self._line.typed(data, self._settings())
        await self._enqueue(data)

    async def close_stdin(self) -> None:
        """End of file, the way a terminal sends it: the VEOF character (^D) at the start of a line.

        In canonical mode ^D after a partly typed line only hands that line to the reader, without a
        newline; a second ^D then reads as end of file. So when the host has typed part of a line, two are
        sent: the partial line reaches the child as typed, then the end of file. In raw mode (an editor, a
        readline prompt) there is no line to finish and the program decides what ^D means, so one is sent.
        The terminal stays open: a later write types on, and another closeStdin sends another end of file
        (a shell reads a line after `cat` has taken its end of file).
        """
        if self.exited or self._master < 0:
            return
        settings = self._settings()
        eof = settings.eof_char if settings is not None else b"\x04"
        count = 2 if self._line.pending(settings) else 1
        self._line.typed(eof * count, settings)
        await self._enqueue(eof * count)

    def _settings(self) -> LineSettings | None:
        return system.line_settings(self._master)

    async def _enqueue(self, data: bytes) -> None:
        assert self._writer is not None
        await self._writer.write(data)

    def _write_failed(self, exc: OSError) -> SidecarError:
        # EIO: no process holds the terminal any more.
        return self._stdin_error("exited" if self.exited else "hung up", exc.errno or errno.EIO)

    def _fail_writes(self, why: str) -> None:
        """Writes still queued can no longer reach anyone who reads them as this child's input."""
        if self._writer is not None:
            self._writer.fail(self._stdin_error(why))

    def _stdin_error(self, why: str, number: int = errno.EPIPE) -> SidecarError:
        # EIO: the terminal is hung up (no process holds its slave side); anything else reads as the pipe's EPIPE.
        return stdin_unavailable(
            self.pid, "EIO" if number == errno.EIO else "EPIPE",
            f"Process {self.pid} {why}; its terminal takes no more input.", number,
        )

    # -- last resort -------------------------------------------------------------------------------------

    def abandon(self) -> None:
        """Stop reading the terminal even if it is not drained, and SIGKILL the child if it still runs.
        Used only when stopping the session and a tree would not die."""
        if self.finished.done():
            return
        if not self.exited and self._popen is not None:
            system.signal_process(self.pid, signal.SIGKILL)
        self._end_output()
