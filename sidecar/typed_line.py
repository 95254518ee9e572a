"""What the host has typed into a terminal's line editor: whether closeStdin needs one ^D or two.

In canonical mode (the terminal's default, and a shell's while it runs a command) the kernel's line
discipline collects a line until a newline; ^D at the start of a line reads as end of file, but ^D after
some typed characters only hands them to the reader. Only the host types into the sidecar's terminals, so
following its writes through the line discipline's rules tells whether a line is pending.
"""

from __future__ import annotations

import sys
import termios

IUTF8 = getattr(termios, "IUTF8", 0o40000 if sys.platform.startswith("linux") else 0)
"""Erase deletes whole UTF-8 characters (Python 3.11's termios lacks the constant; this is Linux's value)."""


def eof_char(attributes: list | None) -> bytes:
    """The terminal's VEOF character (^D unless the program changed it)."""
    if attributes is not None:
        char = attributes[6][termios.VEOF]
        if isinstance(char, bytes) and char != b"\0":  # \0 is _POSIX_VDISABLE: EOF switched off
            return char
    return b"\x04"


class TypedLine:
    """The current line as Linux's n_tty edits it: the characters that end a line, erase, word erase, kill,
    literal next, and the signal characters (which discard pending input) are followed; bytes written in raw
    mode go straight to the program and leave no pending line. `attributes` is tcgetattr's list."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._literal = False

    def pending(self, attributes: list | None) -> bool:
        return bool(self._line) and attributes is not None and bool(attributes[3] & termios.ICANON)

    def typed(self, data: bytes, attributes: list | None) -> None:
        if attributes is None:
            return
        iflag, lflag, cc = attributes[0], attributes[3], attributes[6]
        if not lflag & termios.ICANON:
            self._line.clear()
            self._literal = False
            return

        def char(index: int) -> int:
            value = cc[index]
            code = value[0] if isinstance(value, bytes) else value
            return code or -1  # 0 disables the character

        extended = bool(lflag & termios.IEXTEN)
        ends = {ord("\n"), char(termios.VEOF), char(termios.VEOL)}
        if extended:
            ends.add(char(termios.VEOL2))
        interrupts = {char(termios.VINTR), char(termios.VQUIT), char(termios.VSUSP)} if lflag & termios.ISIG else set()
        flow = {char(termios.VSTART), char(termios.VSTOP)} if iflag & termios.IXON else set()
        erase, kill = char(termios.VERASE), char(termios.VKILL)
        word_erase = char(termios.VWERASE) if extended else -1
        literal_next = char(termios.VLNEXT) if extended else -1
        utf8 = bool(iflag & IUTF8)
        for byte in data:
            if iflag & termios.ISTRIP:
                byte &= 0x7F
            if self._literal:
                self._literal = False
                self._line.append(byte)
                continue
            if byte == ord("\r"):
                if iflag & termios.IGNCR:
                    continue
                if iflag & termios.ICRNL:
                    byte = ord("\n")
            elif byte == ord("\n") and iflag & termios.INLCR:
                byte = ord("\r")
            if byte in interrupts:
                if not lflag & termios.NOFLSH:
                    self._line.clear()
            elif byte in flow:
                pass
            elif byte in ends:
                self._line.clear()
            elif byte == erase:
                self._erase_char(utf8)
            elif byte == word_erase:
                self._erase_word(utf8)
            elif byte == kill:
                self._line.clear()
            elif byte == literal_next:
                self._literal = True
            else:
                self._line.append(byte)

    def _erase_char(self, utf8: bool) -> None:
        while self._line:
            byte = self._line.pop()
            if not (utf8 and byte & 0xC0 == 0x80):  # a UTF-8 continuation byte: keep erasing to its start
                return

    def _erase_word(self, utf8: bool) -> None:
        # As n_tty does: erase characters that are not word characters, then the word before them.
        seen_word = False
        while self._line:
            lead = len(self._line) - 1
            while utf8 and lead > 0 and self._line[lead] & 0xC0 == 0x80:
                lead -= 1
            if _word_char(self._line[lead]):
                seen_word = True
            elif seen_word:
                return
            self._erase_char(utf8)


def _word_char(lead: int) -> bool:
    """isalnum() or '_' as the kernel judges a character by its first byte (Latin-1 letters count, so
    nearly every multi-byte UTF-8 character does too)."""
    return (lead < 0x80 and chr(lead).isalnum()) or lead == ord("_") or (lead >= 0xC0 and lead not in (0xD7, 0xF7))
