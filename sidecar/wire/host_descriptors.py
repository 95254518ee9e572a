"""Which descriptors the host handed the sidecar, and whether one of them can carry the raw channel.

The host names the raw channel by number (initialize {rawChannel: {fd}}). By the time it asks, the sidecar
has opened descriptors of its own (the guardian's pipe, its copies of stdin and stdout, the event loop's),
and a number the host never passed may be one of those: taking it would hijack the sidecar's own pipe. So
the numbers open at start are noted, before the sidecar opens anything, and only those are accepted.
Noting them (sidecar.system.open_descriptors, called first thing by the command line) reads /proc (or
/dev/fd); no descriptor is touched.
"""

from __future__ import annotations

import os
import stat

from .. import system


def unusable_reason(fd: int, host_fds: frozenset[int] | None) -> str | None:
    """Why `fd` cannot be the raw channel (a phrase that follows "descriptor N"), or None if it can."""
    if host_fds is not None and fd not in host_fds:
        return "was not open when the sidecar started"
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        return f"is not open ({exc.strerror})"
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return "is not a pipe or a socket"
    if not system.open_for_writing(fd):
        return "is not open for writing (the read end of a pipe?)"
    return None
