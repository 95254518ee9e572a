"""Where the sidecar's log lines go: its stderr, without ever blocking on it.

A host should drain the sidecar's stderr, but one that does not (a Popen with stderr=PIPE that is never
read, say) would otherwise stop the whole sidecar at the first log line that finds the pipe full: the
event loop would block inside write() and no request would be answered again. So on Linux, when stderr is
a pipe, log lines are written through a non-blocking descriptor of their own. Opening /proc/self/fd/2
gives a new open file description of the same pipe, so the blocking mode of the host's end, and of
anything sharing ours, is left alone. A line that does not fit is dropped and counted, and the count is
reported as soon as a line fits again. Elsewhere (a terminal, a file, or another system) stderr is
written as usual.
"""

from __future__ import annotations

import logging
import os
import sys

from .. import system

FORMAT = "process-sidecar %(levelname)s %(name)s: %(message)s"


class NonBlockingStderr(logging.Handler):
    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "replace")
        except Exception:
            self.handleError(record)
            return
        if self.dropped:
            note = f"process-sidecar WARNING sidecar: {self.dropped} log line(s) dropped: stderr was full\n"
            if not self._write(note.encode()):
                self.dropped += 1
                return
            self.dropped = 0
        if not self._write(line):
            self.dropped += 1

    def _write(self, data: bytes) -> bool:
        """Whether `data` went out. A pipe takes a write of up to PIPE_BUF (4096) bytes whole or not at all;
        a longer line (a traceback) can go out in part, and then its end is lost with the next full pipe."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except BlockingIOError:
            return len(view) < len(data)
        except OSError:  # EPIPE: nobody will ever read it
            return False
        return True


def setup_logging(level: str) -> None:
    """Log at `level` to stderr, never blocking on it (see above)."""
    handler: logging.Handler
    fd = system.nonblocking_stderr()
    handler = NonBlockingStderr(fd) if fd is not None else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))

