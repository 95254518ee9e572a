"""The sidecar's stdin: the host's requests, read as they come and handed to the line splitter.

A pipe, socket or terminal is read when the event loop says it is readable (add_reader), in reads sized by
system.SizedReads: asyncio's pipe transport asks for 256 KiB every time, which costs a mapping per request
line. A regular file or /dev/null cannot be polled (epoll refuses them), so those are read on a thread
instead.

Reading pauses while the pipe to the host is full (stdout_writer throttles it as it throttles children):
a host that sends requests but does not read the answers gets the pipe's own backpressure, instead of the
answers piling up in the sidecar's memory.
"""

from __future__ import annotations

import asyncio
import logging
import os

from .. import system
from .framing import LineSplitter

log = logging.getLogger(__name__)

READ_BYTES = 256 * 1024
"""The most one read asks for where the descriptor's capacity is unknown (a socket, a terminal, a file)."""
LINES_PER_TURN = 64
"""Requests handed to the dispatcher per turn of the event loop: between two handfuls, their answers are
written, and a full pipe to the host pauses the reader before the next."""


class StdinReader:
    """Reads the host's requests into the line splitter and hands them out a handful per turn, none while
    paused (pause_reading: the pipe to the host is full). At end of file, the lines read are handed out
    all the same, and then `ended` is resolved."""

    def __init__(self, fd: int, splitter: LineSplitter, ended: "asyncio.Future[str]") -> None:
        self._fd = fd
        self._splitter = splitter
        self._ended = ended
        self._loop = asyncio.get_running_loop()
        self._reads = system.SizedReads.of(fd, READ_BYTES)
        self._polled = False  # read on the event loop, not on a thread
        self._reading = False  # the event loop watches fd
        self._at_end = False
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
        self._stop_polling()

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
        if not self._polled or self._at_end or reading == self._reading:
            return
        self._reading = reading
        if reading:
            self._loop.add_reader(self._fd, self._read_ready)
        else:
            self._loop.remove_reader(self._fd)

    def _stop_polling(self) -> None:
        self._at_end = True
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _read_ready(self) -> None:
        data = self._reads.read(self._fd, self._failed)
        if data is None:
            return
        if data:
            self.received(data)
        else:
            self._stop_polling()
            self.reached_end()

    @staticmethod
    def _failed(exc: OSError) -> None:  # a socket reset by the host: as good as its end
        log.warning("reading stdin failed: %s", exc)

    async def _read(self) -> None:
        if system.pollable(self._fd):
            os.set_blocking(self._fd, False)
            try:
                self._loop.add_reader(self._fd, self._read_ready)
            except (OSError, ValueError):  # a descriptor this system's poller refuses after all
                os.set_blocking(self._fd, True)
            else:
                self._polled = self._reading = True
                self._update_reading()
                return
        while True:
            await self._resumed.wait()
            data = await self._loop.run_in_executor(None, os.read, self._fd, self._reads.next)
            self._reads.got(len(data))
            if not data:
                break
            self.received(data)
        self.reached_end()
