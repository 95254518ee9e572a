"""Which descriptors the host handed the sidecar, and whether one of them can carry the raw channel.

The host names the raw channel by number (initialize {rawChannel: {fd}}). By the time it asks, the sidecar
has opened descriptors of its own (the guardian's pipe, its copies of stdin and stdout, the event loop's),
and a number the host never passed may be one of those: taking it would hijack the sidecar's own pipe. So
the numbers open at start are noted, before the sidecar opens anything, and only those are accepted.
Noting a number reads /proc (or /dev/fd); no descriptor is touched.
"""

from __future__ import annotations

import fcntl
import os
import stat

_FD_DIRECTORIES = ("/proc/self/fd", "/dev/fd")


def host_descriptors() -> frozenset[int] | None:
    """The descriptors above 2 open now (call it first thing); None where the system cannot list them."""
    for directory in _FD_DIRECTORIES:
        try:
            listing = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            names = os.listdir(listing)
        finally:
            os.close(listing)
        return frozenset(int(name) for name in names if name.isdigit() and int(name) > 2 and int(name) != listing)
    return None


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
    access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    if access not in (os.O_WRONLY, os.O_RDWR):
        return "is not open for writing (the read end of a pipe?)"
    return None
