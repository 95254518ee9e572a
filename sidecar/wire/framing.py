"""Split the host's byte stream into lines, with a cap on a line's length.

A line over the cap is not buffered: its bytes are counted and dropped until its newline, then reported,
so a runaway host cannot make the sidecar hold more than `max_line_bytes` of one message.

Bytes come in with add() and lines go out with drain(), which may stop after some lines: the reader hands
out a few lines per turn of the event loop and none while the host is not reading the answers (see
stdin_reader), so one read of many requests cannot turn into as many answers at once.
"""

from __future__ import annotations

from typing import Callable


class LineSplitter:
    def __init__(
        self,
        max_line_bytes: int,
        on_line: Callable[[bytes], None],
        on_too_long: Callable[[int], None],
    ) -> None:
        self._max = max_line_bytes
        self._on_line = on_line
        self._on_too_long = on_too_long
        self._buffer = bytearray()
        self._search_from = 0  # no newline in the buffer before this
        self._discarding = False
        self._discarded = 0

    def add(self, data: bytes) -> None:
        """Take bytes from the host; drain() hands out the lines they complete."""
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                self._discarded += len(data)
                return
            self._discarding = False
            self._on_too_long(self._discarded + newline)
            data = data[newline + 1 :]
        self._buffer += data

    def drain(self, limit: int | None = None) -> bool:
        """Emit the complete lines held, at most `limit` of them; whether complete lines are left."""
        buffer = self._buffer
        start = 0
        emitted = 0
        more = False
        while True:
            # Search only bytes not searched yet: a long line arriving in many reads is not rescanned each time.
            newline = buffer.find(b"\n", max(start, self._search_from))
            if newline < 0:
                self._search_from = len(buffer)
                break
            if limit is not None and emitted >= limit:
                self._search_from = newline
                more = True
                break
            self._emit(buffer, start, newline)
            emitted += 1
            start = newline + 1
        if start:
            del buffer[:start]
            self._search_from -= start
        if not more and len(buffer) > self._max:
            # The unfinished line alone is over the cap: drop it, and report it at its newline.
            self._discarding = True
            self._discarded = len(buffer)
            buffer.clear()
            self._search_from = 0
        return more

    def end(self) -> None:
        """End of input: every line held is emitted, and a last line without its newline still counts."""
        self.drain()
        if self._discarding:
            self._discarding = False
            self._on_too_long(self._discarded)
        elif self._buffer:
            self._emit(self._buffer, 0, len(self._buffer))
            self._buffer.clear()
            self._search_from = 0

    def _emit(self, buffer: bytearray, start: int, end: int) -> None:
        if end > start and buffer[end - 1] == 0x0D:  # tolerate \r\n
            end -= 1
        if end - start > self._max:
            self._on_too_long(end - start)
            return
        line = bytes(buffer[start:end])
        if line.strip():  # blank lines (keep-alives) are not messages
            self._on_line(line)
