"""The sidecar's stdin: the host's requests, read as they come and handed to the line splitter.

A pipe, socket or terminal is read through asyncio. A regular file or /dev/null cannot be polled (epoll
refuses them, and asyncio finds out only in a later callback, after connect_read_pipe has returned: a
session on /dev/null would never end), so those are read on a thread instead.

Reading pauses while the pipe to the host is full (stdout_writer throttles it as it throttles children):
a host that sends requests but does not read the answers gets the pipe's own backpressure, instead of the
answers piling up in the sidecar's memory.
"""

from __future__ import annotations

import asyncio
import os

from .. import system
from .framing import LineSplitter

READ_BYTES = 256 * 1024
LINES_PER_TURN = 64
"""Requests handed to the dispatcher per turn of the event loop: between two handfuls, their answers are
written, and a full pipe to the host pauses the reader before the next."""


class _StdinProtocol(asyncio.Protocol):
    def __init__(self, reader: "StdinReader") -> None:
        self._reader = reader

    def data_received(self, data: bytes) -> None:
        self._reader.received(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._reader.reached_end()


class StdinReader:
    """Reads the host's requests into the line splitter and hands them out a handful per turn, none while
    paused (pause_reading: the pipe to the host is full). At end of file, the lines read are handed out
    all the same, and then `ended` is resolved."""

    def __init__(self, fd: int, splitter: LineSplitter, ended: "asyncio.Future[str]") -> None:
        self._fd = fd
        self._splitter = splitter
        self._ended = ended
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.ReadTransport | None = None
        self._pause_reasons: set[str] = set()
        self._backlog = False  # complete lines wait in the splitter
        self._pump_scheduled = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self._loop.create_task(self._read())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    # -- throttled by the pipe to the host (host_pipe.Throttled) ---------------------------------------------

    def pause_reading(self, reason: str) -> None:
        self._pause_reasons.add(reason)
        self._update_reading()

    def resume_reading(self, reason: str) -> None:
        self._pause_reasons.discard(reason)
        self._update_reading()
        self._schedule_pump()

    # -- lines -------------------------------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        self._splitter.add(data)
        self._pump()

    def reached_end(self) -> None:
        self._splitter.end()  # every line read is handed out, paused or not: the session is ending
        self._backlog = False
        if not self._ended.done():
            self._ended.set_result("end of file on stdin")

    def _pump(self) -> None:
        self._pump_scheduled = False
        if self._pause_reasons:
            return
        self._backlog = self._splitter.drain(LINES_PER_TURN)
        self._update_reading()
        self._schedule_pump()

    def _schedule_pump(self) -> None:
        if self._backlog and not self._pause_reasons and not self._pump_scheduled:
            self._pump_scheduled = True
            self._loop.call_soon(self._pump)

    def _update_reading(self) -> None:
        """Read more only when everything read so far has been handed out and nothing pauses the reader."""
        reading = not self._pause_reasons and not self._backlog
        if reading:
            self._resumed.set()
        else:
            self._resumed.clear()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if reading and not transport.is_reading():
            transport.resume_reading()
        elif not reading and transport.is_reading():
            transport.pause_reading()

    async def _read(self) -> None:
        pipe = os.fdopen(self._fd, "rb", buffering=0, closefd=False)
        if system.pollable(self._fd):
            try:
                transport, _ = await self._loop.connect_read_pipe(lambda: _StdinProtocol(self), pipe)
            except ValueError:
                pass
            else:
                self._transport = transport
                self._update_reading()
                return
        while True:
            await self._resumed.wait()
            data = await self._loop.run_in_executor(None, os.read, self._fd, READ_BYTES)
            if not data:
                break
            self.received(data)
        self.reached_end()
