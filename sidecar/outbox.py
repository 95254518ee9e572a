"""The sidecar's stdout: protocol lines only, in order, batched into few writes, with backpressure.

The first line of a turn of the event loop is written at once, so an answer or a child's output is never
held back by a turn; the lines that follow it in the same turn are batched into one write at the next
turn, so a burst (a thousand children's output, a batch) still costs few writes. When the host stops reading
and the pipe's buffer passes HIGH_WATER, every registered reader (the spawned children's output pipes) is
paused, so a flooding child blocks on its own pipe instead of growing the sidecar's memory.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable

import orjson

from .backpressure import HIGH_WATER, LOW_WATER, Throttle, Throttled, drain_transport

_DUMPS_OPTIONS = orjson.OPT_APPEND_NEWLINE


class Outbox(asyncio.Protocol):
    def __init__(self, on_host_gone: Callable[[], None]) -> None:
        self._on_host_gone = on_host_gone
        self._transport: asyncio.WriteTransport | None = None
        self._fd: int | None = None  # set when writing blocking to a regular file instead of a pipe
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._throttle = Throttle("host")
        self.closed = False

    async def open(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        # closefd=False: on a regular file the object is dropped and the fd must stay open.
        pipe = os.fdopen(fd, "wb", buffering=0, closefd=False)
        try:
            transport, _ = await loop.connect_write_pipe(lambda: self, pipe)
        except ValueError:
            # Not a pipe, socket or terminal (a regular file): writes never block, so write directly.
            self._fd = fd
            return
        assert isinstance(transport, asyncio.WriteTransport)
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        self._transport = transport

    # -- sending ----------------------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Queue one message (a dict, or a list for a batch response)."""
        self.send_line(orjson.dumps(message, option=_DUMPS_OPTIONS))

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
        """Wait until everything queued has been handed to the host (or the host is gone, or timeout)."""
        self._flush()
        await drain_transport(self._transport, lambda: self.closed, timeout, "stdout")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- backpressure ----------------------------------------------------------------------------------

    def throttle(self, reader: Throttled) -> None:
        """Pause `reader` whenever the host falls behind, until `release(reader)`."""
        self._throttle.add(reader)

    def release(self, reader: Throttled) -> None:
        self._throttle.discard(reader)

    def pause_writing(self) -> None:
        self._throttle.pause()

    def resume_writing(self) -> None:
        self._throttle.resume()

    # -- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        # The host closed its end of our stdout: nobody hears us any more, so the session is over. The
        # readers run again (their output is dropped) so that their children can finish.
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        self.resume_writing()
        self._on_host_gone()
