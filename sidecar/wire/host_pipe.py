"""A pipe to the host (stdout, or the raw channel), written with backpressure onto the children feeding it.

When the host stops reading the pipe and its buffer passes HIGH_WATER, asyncio calls pause_writing(); every
reader registered for that pipe (a spawned child's output) is then paused, so the child blocks on its own
full pipe instead of growing the sidecar's memory. Below LOW_WATER, resume_writing() lets them run again.
When the host closes its end, nobody hears us any more: the session ends.
"""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO, Callable, Protocol

log = logging.getLogger(__name__)

HIGH_WATER = 512 * 1024
LOW_WATER = 128 * 1024


class Throttled(Protocol):
    def pause_reading(self, reason: str) -> None: ...

    def resume_reading(self, reason: str) -> None: ...


class HostPipe(asyncio.Protocol):
    """One pipe to the host. `name` is the readers' pause reason (so that two pipes pausing the same reader
    do not lift each other's pause) and what logs call it."""

    def __init__(self, name: str, on_host_gone: Callable[[], None]) -> None:
        self._name = name
        self._on_host_gone = on_host_gone
        self._transport: asyncio.WriteTransport | None = None
        self._readers: set[Throttled] = set()
        self._paused = False
        self.closed = False

    async def _connect(self, pipe: BinaryIO) -> None:
        """Write to `pipe` through asyncio; ValueError if it is not a pipe, socket or terminal."""
        transport, _ = await asyncio.get_running_loop().connect_write_pipe(lambda: self, pipe)
        assert isinstance(transport, asyncio.WriteTransport)
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        self._transport = transport

    # -- backpressure ----------------------------------------------------------------------------------

    def throttle(self, reader: Throttled) -> None:
        """Pause `reader` whenever the host falls behind on this pipe, until `release(reader)`."""
        self._readers.add(reader)
        if self._paused:
            reader.pause_reading(self._name)

    def release(self, reader: Throttled) -> None:
        self._readers.discard(reader)

    def pause_writing(self) -> None:
        self._paused = True
        for reader in self._readers:
            reader.pause_reading(self._name)

    def resume_writing(self) -> None:
        self._paused = False
        for reader in list(self._readers):
            reader.resume_reading(self._name)

    # -- ending ----------------------------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Wait until everything written has been handed to the host (or the host is gone, or timeout).

        Used once, at exit; the transport has no callback for "buffer empty" below the high-water mark,
        so this polls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._transport is not None and not self.closed and self._transport.get_write_buffer_size():
            if loop.time() >= deadline:
                unread = self._transport.get_write_buffer_size()
                log.warning("the host did not read the last %d bytes of %s", unread, self._name)
                return
            await asyncio.sleep(0.01)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        # The host closed its end (or we closed ours, at the end of the session): nobody hears us any more,
        # so the session is over. The readers run again (their output is dropped) so that their children
        # can finish.
        if self.closed:
            return
        self.closed = True
        self.resume_writing()
        self._on_host_gone()
