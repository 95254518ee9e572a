"""The one seam between the sidecar and its operating system.

Modules reach POSIX and Linux calls only through here (`from .. import system`), so a port to another
system is a module beside `posix.py` with these names. Windows has none yet: `sidecar.cli` refuses to start
there before importing anything that needs one.
"""

import sys

if sys.platform == "win32":  # pragma: no cover
    raise ImportError("process-sidecar needs a POSIX system (Linux, macOS, a BSD); Windows is not supported yet")

from .posix import (  # noqa: E402
    LINUX,
    PIPE_BYTES,
    SESSION_END_SIGNALS,
    STOP_SIGNALS,
    TERMINALS,
    anonymous_file,
    become_subreaper,
    descendant_links,
    fork,
    leave_session,
    line_settings,
    nonblocking_stderr,
    open_descriptors,
    open_for_writing,
    open_terminal,
    own_children,
    pidfd,
    pin_directory,
    pin_file,
    PinnedDirectory,
    PinnedFile,
    pipe_capacity,
    pollable,
    process_group,
    process_links,
    raise_open_file_limit,
    real_directory,
    reap,
    resize_terminal,
    restart_interrupted_calls,
    signal_group,
    signal_process,
    signal_when_parent_dies,
    take_terminal,
    widen_pipe,
)
from .sized_reads import SizedReads  # noqa: E402

__all__ = [
    "LINUX", "PIPE_BYTES", "SESSION_END_SIGNALS", "STOP_SIGNALS", "TERMINALS", "anonymous_file", "become_subreaper", "descendant_links", "fork", "leave_session",
    "line_settings", "nonblocking_stderr", "open_descriptors", "open_for_writing", "open_terminal", "own_children", "pidfd",
    "pin_directory", "pin_file", "PinnedDirectory", "PinnedFile", "pipe_capacity", "pollable", "process_group", "process_links",
    "raise_open_file_limit", "real_directory", "reap", "resize_terminal", "restart_interrupted_calls",
    "signal_group", "signal_process", "signal_when_parent_dies", "take_terminal",
    "widen_pipe", "SizedReads",
]
