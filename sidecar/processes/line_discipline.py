"""A terminal's line discipline, followed from the outside: whether closeStdin needs one ^D or two.

In canonical mode (the terminal's default, and a shell's while it runs a command) the kernel's line
discipline collects a line until a newline; ^D at the start of a line reads as end of file, but ^D after
some typed characters only hands them to the reader. Only the host types into the sidecar's terminals, so
following its writes through the line discipline's rules tells whether a line is pending.
"""

from __future__ import annotations

from ..system.line_settings import LineSettings


class TypedLine:
    """The current line as Linux's n_tty edits it: the characters that end a line, erase, word erase, kill,
    literal next, and the signal characters (which discard pending input) are followed; bytes written in raw
    mode go straight to the program and leave no pending line. `settings` None: the terminal's attributes
    could not be read, and nothing is followed."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._literal = False

    def pending(self, settings: LineSettings | None) -> bool:
        return bool(self._line) and settings is not None and settings.canonical

    def typed(self, data: bytes, settings: LineSettings | None) -> None:
        if settings is None:
            return
        if not settings.canonical:
            self._line.clear()
            self._literal = False
            return
        interrupts = settings.interrupts if settings.signals else frozenset()
        flow = settings.flow if settings.flow_control else frozenset()
        for byte in data:
            if settings.strip:
                byte &= 0x7F
            if self._literal:
                self._literal = False
                self._line.append(byte)
                continue
            if byte == ord("\r"):
                if settings.ignore_cr:
                    continue
                if settings.cr_to_nl:
                    byte = ord("\n")
            elif byte == ord("\n") and settings.nl_to_cr:
                byte = ord("\r")
            if byte in interrupts:
                if settings.flush_on_signal:
                    self._line.clear()
            elif byte in flow:
                pass
            elif byte in settings.line_ends:
                self._line.clear()
            elif byte == settings.erase:
                self._erase_char(settings.utf8)
            elif byte == settings.word_erase:
                self._erase_word(settings.utf8)
            elif byte == settings.kill:
                self._line.clear()
            elif byte == settings.literal_next:
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
