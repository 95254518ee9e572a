"""Split the host's byte stream into lines, with a cap on a line's length.

A line over the cap is not buffered: its bytes are counted and dropped until its newline, then reported,
so a runaway host cannot make the sidecar hold more than `max_line_bytes` of one message.
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
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> None:
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                self._discarded += len(data)
                return
            self._discarding = False
            self._on_too_long(self._discarded + newline)
            data = data[newline + 1 :]
        buffer = self._buffer
        # Search only the new bytes: a long line arriving in many reads must not be rescanned each time.
        search_from = len(buffer)
        buffer += data
        start = 0
        while True:
            newline = buffer.find(b"\n", search_from)
            if newline < 0:
                break
            self._emit(buffer, start, newline)
            start = search_from = newline + 1
        if start:
            del buffer[:start]
        if len(buffer) > self._max:
            self._discarding = True
            self._discarded = len(buffer)
            buffer.clear()

    def end(self) -> None:
        """End of input: a last line without its newline still counts."""
        if self._discarding:
            self._discarding = False
            self._on_too_long(self._discarded)
        elif self._buffer:
            self._emit(self._buffer, 0, len(self._buffer))
            self._buffer.clear()

    def _emit(self, buffer: bytearray, start: int, end: int) -> None:
        if end > start and buffer[end - 1] == 0x0D:  # tolerate \r\n
            end -= 1
        if end - start > self._max:
            self._on_too_long(end - start)
            return
        line = bytes(buffer[start:end])
        if line.strip():  # blank lines (keep-alives) are not messages
            self._on_line(line)
