"""How a terminal edits typed input: what sidecar.system reads from a terminal, in portable terms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineSettings:
    """The parts of a terminal's attributes that decide how typed input is edited (sidecar.system reads
    them). Characters are byte values; -1 is a character switched off."""

    canonical: bool
    signals: bool
    flush_on_signal: bool
    strip: bool
    ignore_cr: bool
    cr_to_nl: bool
    nl_to_cr: bool
    flow_control: bool
    utf8: bool
    eof: int
    line_ends: frozenset[int]
    interrupts: frozenset[int]
    flow: frozenset[int]
    erase: int
    kill: int
    word_erase: int
    literal_next: int

    @property
    def eof_char(self) -> bytes:
        """The VEOF character (^D unless the program changed it or switched it off)."""
        return bytes([self.eof]) if self.eof >= 0 else b"\x04"
