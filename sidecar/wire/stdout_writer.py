"""The sidecar's stdout: protocol lines only, in order, batched into few writes, with backpressure.

The first line of a turn of the event loop is written at once, so an answer or a child's output is never
held back by a turn; the lines that follow it in the same turn are batched into one write at the next
turn, so a burst (a thousand children's output, a batch) still costs few writes. When the host stops reading,
the children whose output goes out as notifications are paused (see host_pipe.HostPipe), so a flooding
child blocks on its own pipe instead of growing the sidecar's memory.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

import orjson

from .host_pipe import HostPipe

_DUMPS_OPTIONS = orjson.OPT_APPEND_NEWLINE


class StdoutWriter(HostPipe):
    def __init__(self, on_host_gone: Callable[[], None]) -> None:
        super().__init__("stdout", on_host_gone)
        self._fd: int | None = None  # set when writing blocking to a regular file instead of a pipe
        self._pending: list[bytes] = []
        self._flush_scheduled = False

    async def open(self, fd: int) -> None:
        # closefd=False: on a regular file the object is dropped and the fd must stay open.
        pipe = os.fdopen(fd, "wb", buffering=0, closefd=False)
        try:
            await self._connect(pipe)
        except ValueError:
            # Not a pipe, socket or terminal (a regular file): writes never block, so write directly.
            self._fd = fd

    # -- sending ----------------------------------------------------------------------------------------

    def notify(self, method: str, params: dict) -> None:
        self.send_line(orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params}, option=_DUMPS_OPTIONS))

    def send_line(self, line: bytes) -> None:
        if self.closed:
            return
        if self._flush_scheduled:
            self._pending.append(line)
            return
        # Nothing is waiting (a flush is scheduled whenever something is): write this line now, and batch
        # whatever else this turn of the loop produces into one write at the next turn.
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._flush)
        self._write(line)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending or self.closed:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)
        elif self._fd is not None:
            self._write_blocking(data)

    def _write_blocking(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.connection_lost(exc)

    async def drain(self, timeout: float) -> None:
        self._flush()
        await super().drain(timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pending.clear()
        super().connection_lost(exc)
