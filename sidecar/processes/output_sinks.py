"""Where a child's output goes: streamed to the host as notifications or raw frames (spawn), or collected (execute)."""

from __future__ import annotations

import codecs
from typing import Any, Callable

from ..wire.encodings import b64encode, to_wire
from ..wire.raw_channel import STREAMS, RawChannel
from .output_window import OutputWindow

CHUNK_BYTES = 64 * 1024
"""Most bytes of output per notification unless the host asks otherwise (initialize notificationBytes): 32-64
KiB is where a Node host reads JSON fastest; a webview behind Tauri's IPC, which pays per message, asks for more."""


class HeldNotifications:
    """The notifications of one spawned child, held until its spawn response is on the wire.

    The sidecar promises that the spawn response comes before any notification for that pid, but the
    child may write before the response is sent (the response waits for the rest of its batch, for one).
    """

    def __init__(self, notify: Callable[[str, dict], None]) -> None:
        self._notify = notify
        self._held: list[tuple[str, dict]] | None = []

    def notify(self, method: str, params: dict) -> None:
        if self._held is None:
            self._notify(method, params)
        else:
            self._held.append((method, params))

    def release(self) -> None:
        held, self._held = self._held, None
        for method, params in held or ():
            self._notify(method, params)


class StreamedOutput:
    """One output stream of a spawned child, sent as `stdout`/`stderr` notifications.

    Each read of the child's pipe becomes a notification at once, in pieces of at most `chunk_bytes`. A pipe
    is read once per turn of the event loop (descriptor_io, up to what the pipe holds), taking everything the child wrote since
    the last read, so under load the pipe itself coalesces many small writes into large notifications, and
    an idle child's output goes out without waiting for anything (deferring it to a later turn would only
    add latency: the deferred flush runs before the pipe is read again, so there is never more to merge).
    utf-8 is decoded incrementally, so a character split across reads is never split across notifications.
    With flow control, each notification counts the bytes it carries against the child's window.
    """

    def __init__(
        self, method: str, encoding: str, pid: Callable[[], int], sink: HeldNotifications,
        window: OutputWindow | None = None, chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._method = method
        self._chunk_bytes = chunk_bytes
        self._pid = pid
        self._sink = sink
        self._window = window
        self._unsent = 0  # bytes read but not yet in a notification (part of a character)
        if encoding == "base64":
            # Every chunk is encoded on its own: the decoded chunks concatenate to the exact bytes.
            self._decode: Callable[[bytes | memoryview, bool], str] = lambda data, final: b64encode(data).decode("ascii")
        else:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            self._decode = decoder.decode

    def feed(self, data: bytes) -> None:
        chunk = self._chunk_bytes
        if len(data) <= chunk:
            self._emit(self._decode(data, False), len(data))
            return
        view = memoryview(data)
        for start in range(0, len(data), chunk):
            piece = view[start : start + chunk]
            self._emit(self._decode(piece, False), len(piece))

    def close(self) -> None:
        """End of file: send what is left, a trailing incomplete character as U+FFFD."""
        self._emit(self._decode(b"", True), 0)

    def _emit(self, text: str, size: int) -> None:
        self._unsent += size
        if text:
            self._sink.notify(self._method, {"pid": self._pid(), "data": text})
            if self._window is not None:
                self._window.sent(self._unsent)
            self._unsent = 0


class CollectedBudget:
    """The bytes all executes together may hold (--max-collected-bytes): many executes at once, each within
    its own maxBuffer, must not grow the sidecar without bound."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0

    def take(self, wanted: int) -> int:
        """Reserve up to `wanted` bytes; how many were granted."""
        granted = max(0, min(wanted, self.total - self.held))
        self.held += granted
        return granted

    def give_back(self, count: int) -> None:
        self.held -= count


class CollectedOutput:
    """One output stream of an executed child, kept in memory up to its limit and within the budget shared
    by every execute. Past either, what fits is kept and on_overflow(reason) is called once: "maxBuffer"
    or "maxCollectedBytes"."""

    def __init__(self, limit: int, budget: CollectedBudget, on_overflow: Callable[[str], Any]) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._budget = budget
        self._on_overflow: Callable[[str], Any] | None = on_overflow
        self.overflowed = False

    def feed(self, data: bytes) -> None:
        if self.overflowed:
            return
        reason = None
        room = self._limit - self._size
        if len(data) > room:
            data, reason = data[:room], "maxBuffer"
        granted = self._budget.take(len(data))
        if granted < len(data):
            data, reason = data[:granted], "maxCollectedBytes"
        self._chunks.append(data)
        self._size += len(data)
        if reason is not None:
            self.overflowed = True
            if self._on_overflow is not None:
                self._on_overflow(reason)

    def close(self) -> None:
        pass

    def take_text(self, encoding: str) -> str:
        """What was collected, on the wire's terms; the chunks are let go (the answer holds the text now)
        and so is on_overflow, which refers back to the run."""
        text = to_wire(b"".join(self._chunks), encoding)
        self._chunks.clear()
        self._on_overflow = None
        return text

    def release(self) -> None:
        """Give the budget back: the answer with this output is on its way to the host."""
        self._budget.give_back(self._size)
        self._size = 0


class FramedOutput:
    """One output stream of a raw spawn, sent as frames on the raw channel (no notifications).

    close() sends the stream's end frame, and that of every stream in `also_ends`: a terminal merges
    stderr into stdout, yet the host is promised an end frame for both.
    """

    def __init__(
        self, channel: RawChannel, stream: str, pid: Callable[[], int], also_ends: tuple[str, ...] = ()
    ) -> None:
        self._channel = channel
        self._stream = STREAMS[stream]
        self._ends = (self._stream, *(STREAMS[name] for name in also_ends))
        self._pid = pid

    def feed(self, data: bytes) -> None:
        self._channel.send(self._pid(), self._stream, data)

    def close(self) -> None:
        for stream in self._ends:
            self._channel.end(self._pid(), stream)
