"""How much to ask for in each read of a pipe: little while lines trickle in, the most while a flood comes.

A read allocates the bytes object it asks for before the kernel fills it. With glibc, a request above 128 KiB
(its mmap threshold) is a mapping of its own: mmap, a page fault, mremap down to what arrived, munmap when it
is freed. That is ~9 us per read here, which a read of one short line pays in full, twice per round trip
(the host's request, the child's answer). So a read asks for SMALL_READ, and for its most only after a read
filled SMALL_READ: a flood still comes in the largest pieces, a line costs no mapping. A pipe never holds more
than its capacity, so that is the most worth asking for: known for the pipes the sidecar makes, asked of
the system for the one it is given (stdin).
"""

from __future__ import annotations

import os
from typing import Callable

from .posix import pipe_capacity

SMALL_READ = 64 * 1024
"""Below glibc's mmap threshold with the bytes object's header, and what a default pipe holds."""


class SizedReads:
    """The reads of one non-blocking descriptor, each sized (`next`) by what the one before returned."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._small = min(SMALL_READ, most)
        self.next = self._small

    @classmethod
    def of(cls, fd: int, most: int) -> "SizedReads":
        """For a descriptor made elsewhere: up to its capacity if it is a pipe the system measures, else `most`."""
        return cls(pipe_capacity(fd) or most)

    def got(self, length: int) -> None:
        self.next = self.most if length >= self.next else self._small

    def read(self, fd: int, failed: Callable[[OSError], None]) -> bytes | None:
        """One read of `fd`: None if there is nothing yet, b"" at its end. A failure is handed to `failed` and
        read as the end: ending a descriptor beats retrying it on every wake-up."""
        try:
            data = os.read(fd, self.next)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            failed(exc)
            data = b""
        self.got(len(data))
        return data
