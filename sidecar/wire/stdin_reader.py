"""The sidecar's stdin: the host's requests, read as they come and handed to the line splitter.

A pipe, socket or terminal is read through asyncio. A regular file or /dev/null cannot be polled (epoll
refuses them, and asyncio finds out only in a later callback, after connect_read_pipe has returned: a
session on /dev/null would never end), so those are read on a thread instead.
"""

from __future__ import annotations

import asyncio
import os

from .. import system
from .framing import LineSplitter

READ_BYTES = 256 * 1024


class _StdinProtocol(asyncio.Protocol):
    def __init__(self, splitter: LineSplitter, on_end: "asyncio.Future[str]") -> None:
        self._splitter = splitter
        self._on_end = on_end

    def data_received(self, data: bytes) -> None:
        self._splitter.feed(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._splitter.end()
        if not self._on_end.done():
            self._on_end.set_result("end of file on stdin")


async def read_stdin(fd: int, splitter: LineSplitter, ended: "asyncio.Future[str]") -> None:
    """Feed `splitter` from `fd` until end of file, then resolve `ended` (if nothing else ended the session)."""
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
    if system.pollable(fd):
        try:
            await loop.connect_read_pipe(lambda: _StdinProtocol(splitter, ended), pipe)
            return
        except ValueError:
            pass
    while True:
        data = await loop.run_in_executor(None, os.read, fd, READ_BYTES)
        if not data:
            break
        splitter.feed(data)
    splitter.end()
    if not ended.done():
        ended.set_result("end of file on stdin")
