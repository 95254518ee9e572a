"""Reading and writing a child's non-blocking descriptors on the event loop, without asyncio's transports.

A child's pipes and terminal are read and written here directly (add_reader, add_writer): starting a child
then costs no task, future or loop turn of its own, which asyncio's subprocess transports spend several of
(about 160 us of CPU per child here, a third of what an `execute` of `true` costs the sidecar).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections import deque
from typing import Callable

from .. import system

log = logging.getLogger(__name__)


class Readiness:
    """Whether the event loop calls `callback` when `fd` is readable (or writable), switched on and off."""

    def __init__(self, fd: int, callback: Callable[[], None], *, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        self._add, self._remove = (loop.add_writer, loop.remove_writer) if writable else (loop.add_reader, loop.remove_reader)
        self._fd = fd
        self._callback = callback
        self.on = False

    def set(self, on: bool) -> None:
        if on == self.on:
            return
        self.on = on
        if on:
            self._add(self._fd, self._callback)
        else:
            self._remove(self._fd)


class PipeReader:
    """Reads one pipe while reading is on, handing each read to on_data, until end of file; then closes the
    pipe and calls on_end. One read per wake-up: a child that writes without pause cannot hold the loop."""

    def __init__(
        self, fd: int, on_data: Callable[[bytes], None], on_end: Callable[[], None], capacity: int = system.PIPE_BYTES
    ) -> None:
        """capacity: what the pipe holds, the most one read can return (system.widen_pipe says it)."""
        self._fd = fd
        self._reads = system.SizedReads(capacity)
        self._on_data = on_data
        self._on_end = on_end
        self._readable = Readiness(fd, self._read, writable=False)

    @property
    def ended(self) -> bool:
        return self._fd < 0

    def set_reading(self, reading: bool) -> None:
        if self._fd >= 0:
            self._readable.set(reading)

    def _read(self) -> None:
        data = self._reads.read(self._fd, self._failed)
        if data is None:
            return
        if data:
            self._on_data(data)
        else:
            self.end()

    @staticmethod
    def _failed(exc: OSError) -> None:  # not seen on a pipe
        log.warning("reading a child's pipe failed: %s", exc)

    def end(self) -> None:
        """Stop at once (end of file, or the session giving up on a pipe a descendant holds). Harmless twice."""
        if self._fd < 0:
            return
        self.set_reading(False)
        os.close(self._fd)
        self._fd = -1
        self._on_end()


class QueuedWriter:
    """Writes to one non-blocking descriptor in order. Each write resolves once all of its bytes are in it, so a
    reader that does not read holds the writer back. A failed write fails it and every write queued behind it
    with what error_for makes of the OSError; the descriptor itself stays its owner's to close."""

    def __init__(self, fd: int, error_for: Callable[[OSError], Exception]) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = fd
        self._error_for = error_for
        self._queue: deque[tuple[memoryview, asyncio.Future[None]]] = deque()
        self._writable = Readiness(fd, self._write_queued, writable=True)
        self._flushed: list[Callable[[], None]] = []

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        if not self._queue:
            # The common case, a descriptor with room: written at once, without a future.
            written = self._write_some(view)
            if written == len(view):
                return
            view = view[written:]
        done = self._loop.create_future()
        self._queue.append((view, done))
        if len(self._queue) == 1:
            self._writable.set(True)
        await done

    def when_flushed(self, callback: Callable[[], None]) -> None:
        """Call `callback` once nothing is queued (now, if nothing is), whether the writes succeeded or failed."""
        if self._queue:
            self._flushed.append(callback)
        else:
            callback()

    def fail(self, error: BaseException) -> None:
        """Fail every queued write with `error` and stop writing (the reader is gone, or the descriptor is about
        to be closed)."""
        self._writable.set(False)
        queue, self._queue = self._queue, deque()
        for _, done in queue:
            if not done.done():
                done.set_exception(error)
        self._call_flushed()

    def _write_queued(self) -> None:
        while self._queue:
            view, done = self._queue[0]
            try:
                written = self._write_some(view)
            except Exception as error:
                self.fail(error)
                return
            if written < len(view):
                self._queue[0] = (view[written:], done)
                self._writable.set(True)
                return
            self._queue.popleft()
            if not done.done():
                done.set_result(None)
        self._writable.set(False)
        self._call_flushed()

    def _write_some(self, view: memoryview) -> int:
        """How many bytes went in (0: the descriptor is full); a failure raised as error_for makes it."""
        try:
            return os.write(self._fd, view)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EIO):
                log.warning("writing to a child failed: %s", exc)
            raise self._error_for(exc) from None

    def _call_flushed(self) -> None:
        callbacks, self._flushed = self._flushed, []
        for callback in callbacks:
            callback()
