"""The raw channel: bulk output of `raw` spawns as binary frames on a pipe of the host's, not base64 in JSON.

initialize opens it (PROTOCOL.md, section Raw channel); the frame layout comes from raw-channel.json. The
channel is a write pipe with the same backpressure as stdout: past high water the raw children's readers
pause. The host closing its end ends the session, as closing stdout does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from typing import Callable

from . import protocol_files
from .host_pipe import HostPipe
from .host_descriptors import unusable_reason

log = logging.getLogger(__name__)

_FIELD_TYPES = {"uint8": "B", "uint32": "I"}


def _frame_header(layout: dict) -> struct.Struct:
    """The header as a struct, built from raw-channel.json (and checked against it)."""
    fields = sorted(layout["header"], key=lambda field: field["offset"])
    assert [field["name"] for field in fields] == ["pid", "stream", "length"], fields
    assert all(field.get("byteOrder", "big-endian") == "big-endian" for field in fields), fields
    header = struct.Struct(">" + "".join(_FIELD_TYPES[field["type"]] for field in fields))
    assert header.size == layout["headerBytes"], (header.size, layout["headerBytes"])
    return header


_LAYOUT = protocol_files.raw_channel()
HEADER = _frame_header(_LAYOUT)
MAX_PAYLOAD = _LAYOUT["maxPayloadBytes"]
STREAMS: dict[str, int] = _LAYOUT["streams"]


class RawChannel(HostPipe):
    def __init__(self, on_host_gone: Callable[[], None], host_fds: frozenset[int] | None) -> None:
        super().__init__("the raw channel", on_host_gone)
        self._host_fds = host_fds
        self._negotiation: asyncio.Task[bool] | None = None

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    # -- opening -----------------------------------------------------------------------------------------

    async def negotiate(self, fd: int | None) -> bool:
        """Open the channel on `fd` (None: the host did not ask); whether it is open.

        Only the first initialize decides: a later one answers as the first did and touches nothing.
        """
        if self._negotiation is None:
            self._negotiation = asyncio.ensure_future(self._open(fd))
        return await asyncio.shield(self._negotiation)

    async def _open(self, fd: int | None) -> bool:
        if fd is None:
            return False
        reason = unusable_reason(fd, self._host_fds)
        if reason is None:
            try:
                # Before anything else can fork: no child may inherit the channel (the host would miss EOF).
                os.set_inheritable(fd, False)
                await self._connect(os.fdopen(fd, "wb", buffering=0))
            except (OSError, ValueError) as exc:
                reason = f"could not be opened ({exc})"
            else:
                return True
        log.warning("raw channel refused: descriptor %d %s; spawn with encoding raw is unavailable", fd, reason)
        return False

    # -- frames ------------------------------------------------------------------------------------------

    def send(self, pid: int, stream: int, data: bytes) -> None:
        """Frame `data` (split at MAX_PAYLOAD); dropped once the host has closed the channel."""
        if not data or not self.is_open:
            return
        assert self._transport is not None
        if len(data) <= MAX_PAYLOAD:
            self._transport.write(HEADER.pack(pid, stream, len(data)) + data)
            return
        view = memoryview(data)
        for start in range(0, len(data), MAX_PAYLOAD):
            piece = view[start : start + MAX_PAYLOAD]
            self._transport.write(HEADER.pack(pid, stream, len(piece)) + piece)

    def end(self, pid: int, stream: int) -> None:
        """The zero-length frame that ends one stream of a child."""
        if self.is_open:
            assert self._transport is not None
            self._transport.write(HEADER.pack(pid, stream, 0))
