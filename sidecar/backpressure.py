"""Backpressure from a pipe to the host onto the children that feed it.

The sidecar writes to the host through asyncio write pipes (stdout, and the raw channel when one is open).
When the host stops reading one of them and its buffer passes the high-water mark, the transport calls
pause_writing(); every reader registered for that pipe (a spawned child's output) is then paused, so the
child blocks on its own full pipe instead of growing the sidecar's memory. Below the low-water mark the
transport calls resume_writing() and the readers run again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Protocol

log = logging.getLogger(__name__)

HIGH_WATER = 512 * 1024
LOW_WATER = 128 * 1024


class Throttled(Protocol):
    def pause_reading(self, reason: str) -> None: ...

    def resume_reading(self, reason: str) -> None: ...


class Throttle:
    """The readers that feed one pipe, paused while that pipe's buffer is above high water.

    `reason` names the pipe in the readers' pause reasons, so that two pipes pausing the same reader do not
    lift each other's pause.
    """

    def __init__(self, reason: str) -> None:
        self._reason = reason
        self._readers: set[Throttled] = set()
        self._paused = False

    def add(self, reader: Throttled) -> None:
        """Pause `reader` whenever the pipe falls behind, until `discard(reader)`."""
        self._readers.add(reader)
        if self._paused:
            reader.pause_reading(self._reason)

    def discard(self, reader: Throttled) -> None:
        self._readers.discard(reader)

    def pause(self) -> None:
        self._paused = True
        for reader in self._readers:
            reader.pause_reading(self._reason)

    def resume(self) -> None:
        self._paused = False
        for reader in list(self._readers):
            reader.resume_reading(self._reason)


async def drain_transport(transport: asyncio.WriteTransport | None, gone: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until `transport` has handed everything to the host (or the host is gone, or timeout).

    Used at exit; a transport has no callback for "buffer empty" below the high-water mark, so this polls.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while transport is not None and not gone() and transport.get_write_buffer_size():
        if loop.time() >= deadline:
            log.warning("the host did not read the last %d bytes of %s", transport.get_write_buffer_size(), what)
            return
        await asyncio.sleep(0.01)
