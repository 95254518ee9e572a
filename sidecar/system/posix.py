"""Every call the sidecar makes that only POSIX systems have, and the few that only Linux has.

The rest of the package reaches the operating system through `sidecar.system`, which is this module on
Linux, macOS and the BSDs. A Windows backend would be a module beside this one with the same names (a Job
Object for the guardian and for killing trees, ConPTY for terminals); until then the command line refuses
to start there. Where a call exists on Linux only, the function says what happens elsewhere.
"""

from __future__ import annotations

import sys

assert sys.platform != "win32", "sidecar.system.posix is for POSIX systems"

import errno
import fcntl
import functools
import os
import resource
import select
import signal
import struct
import termios
from typing import TYPE_CHECKING, Callable

from .line_settings import LineSettings

if TYPE_CHECKING:
    import ctypes

LINUX = sys.platform.startswith("linux")

# -- the sidecar process -----------------------------------------------------------------------------------

SESSION_END_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""The signals that end a session: the host, a terminal or a service manager asking the sidecar to stop."""
STOP_SIGNALS = (*SESSION_END_SIGNALS, signal.SIGPIPE)
"""What the guardian ignores: it must outlive the sidecar, whatever reaches their process group or terminal."""


def raise_open_file_limit() -> None:
    """Every child costs the sidecar three pipes: let it use all the descriptors the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def restart_interrupted_calls(signum: int) -> None:
    """A handled `signum` restarts interrupted system calls (os.write of a child's input) instead of
    failing them."""
    signal.siginterrupt(signum, False)


def _libc() -> "ctypes.CDLL":
    """The C library's functions, as the sidecar itself links them (dlopen of no file: the program's own
    symbols). Not ctypes.util.find_library, whose imports (subprocess, tempfile, shutil) cost start-up."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> str | None:
    """Make orphaned descendants re-parent to the sidecar instead of init (Linux); None, or why not."""
    if not LINUX:
        return "only Linux has child subreapers"
    if _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        import ctypes

        return os.strerror(ctypes.get_errno())
    return None


def signal_when_parent_dies(signum: int) -> bool:
    """Have the kernel send `signum` to this process when its parent dies (Linux); whether it will."""
    if not LINUX:
        return False
    try:
        return _libc().prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def fork() -> int:
    return os.fork()


def anonymous_file(name: str) -> int:
    """A descriptor of a file that no directory names, shared with the processes this one forks: a memfd on
    Linux, an unlinked temporary file elsewhere. Not inherited by programs this process executes."""
    create = getattr(os, "memfd_create", None)
    if create is not None:
        try:
            return create(name, getattr(os, "MFD_CLOEXEC"))
        except OSError:
            pass  # e.g. a seccomp filter that refuses memfd_create: a temporary file does the same
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"{name}-")
    os.unlink(path)
    return fd


def leave_session() -> None:
    """Start a new session (and process group): signals to the old group or terminal no longer reach us."""
    os.setsid()


# -- descriptors -------------------------------------------------------------------------------------------

_FD_DIRECTORIES = ("/proc/self/fd", "/dev/fd")


def open_descriptors() -> frozenset[int] | None:
    """The descriptors above 2 open now, without touching any; None where the system cannot list them."""
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


def open_for_writing(fd: int) -> bool:
    access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    return access in (os.O_WRONLY, os.O_RDWR)


PIPE_BYTES = 64 * 1024
"""What a new pipe holds: 64 KiB on Linux, and at most that where pipes grow as they fill (macOS, the BSDs)."""


def widen_pipe(fd: int, size: int) -> int:
    """Let the pipe hold `size` bytes (Linux: F_SETPIPE_SZ), so that a reader that wants large pieces gets them
    in one read; what it holds now. Where that is refused (beyond /proc/sys/fs/pipe-max-size or the user's
    pipe pages, for an unprivileged process) or not offered, the pipe keeps its size (PIPE_BYTES for a new
    one): it only means smaller pieces."""
    if not sys.platform.startswith("linux"):  # spelled out for mypy, which checks this module for macOS too
        return PIPE_BYTES
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except OSError:
        return pipe_capacity(fd) or PIPE_BYTES


def pipe_capacity(fd: int) -> int | None:
    """How many bytes the pipe `fd` holds (Linux: F_GETPIPE_SZ), which is the most one read of it can return.
    None for a descriptor that is not a pipe, or where the system does not say."""
    if not sys.platform.startswith("linux"):  # spelled out for mypy, which checks this module for macOS too
        return None
    try:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    except OSError:
        return None


def pollable(fd: int) -> bool:
    """Whether epoll accepts `fd`: pipes, sockets and terminals do; regular files and /dev/null do not.
    Elsewhere than Linux, True: asyncio decides."""
    if sys.platform != "linux":
        return True
    poller = select.epoll()
    try:
        poller.register(fd, select.EPOLLIN)
        return True
    except OSError:
        return False
    finally:
        poller.close()


def nonblocking_stderr() -> int | None:
    """A non-blocking descriptor of stderr's pipe that leaves the host's end (and ours) in blocking mode:
    opening /proc/self/fd/2 gives a new open file description of the same pipe (Linux). None when stderr is
    not a pipe (a terminal or a file: writes never wait on a reader), or elsewhere (/dev/fd/2 is a dup(),
    and O_NONBLOCK would reach the host's end too)."""
    if not LINUX:
        return None
    import stat

    try:
        if not stat.S_ISFIFO(os.fstat(2).st_mode):
            return None
        # ENXIO if nobody holds the read end any more: then plain stderr does as well.
        return os.open("/proc/self/fd/2", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None


# -- what the scope checked, held open ---------------------------------------------------------------------
#
# A path is looked up again at every use, so a check of a path and a later use of it can meet different files
# (a symlink flipped, a file renamed over another in between). What the scope checks it therefore opens once and
# keeps open, and the child gets that very file or directory through the descriptor: on Linux the path
# /proc/self/fd/N names the file open on N whatever happened to the path it was opened by, for chdir() and
# execve() as for open(). A child started with cwd=/proc/self/fd/N enters it before its exec closes N (CPython's
# _posixsubprocess and libuv both chdir before they exec), and execve("/proc/self/fd/N") runs that very file
# (fexecve() is built the same way).
#
# Elsewhere (macOS, the BSDs: their /dev/fd/N is a dup(), not a link to the file) and on a Linux without /proc,
# the best there is: a directory is checked and entered by its real path, which no symlink can redirect but a
# directory renamed over one of its components between the check and the child's chdir can; a program is checked
# by identity (st_dev, st_ino: held open, its inode cannot be reused) just before the start.

_O_PATH: int = getattr(os, "O_PATH", 0)
"""Linux: a descriptor that can be entered, executed and reopened but not read, so directories without read
permission and execute-only programs can be held too."""


@functools.cache
def _descriptor_paths() -> bool:
    """Whether /proc/self/fd/N names the very file open on N (Linux with /proc mounted)."""
    return LINUX and os.path.isdir("/proc/self/fd")


def _real_path(fd: int, path: str) -> str:
    """The absolute path, without symlinks or `..`, of the file open on `fd` (opened by `path`)."""
    if _descriptor_paths():
        return os.readlink(f"/proc/self/fd/{fd}")  # the kernel's own name for it
    getpath: int | None = getattr(fcntl, "F_GETPATH", None)  # macOS
    if getpath is not None:
        try:
            return os.fsdecode(fcntl.fcntl(fd, getpath, bytes(1024)).split(b"\0", 1)[0])  # MAXPATHLEN
        except OSError:
            pass
    real = os.path.realpath(path)
    held, found = os.fstat(fd), os.stat(real)
    if (held.st_dev, held.st_ino) != (found.st_dev, found.st_ino):
        raise OSError(errno.ESTALE, "the directory changed while it was being opened", path)
    return real


class PinnedDirectory:
    """A directory held open: its real path (what a check looks at), and `start_path`, the path a child is to
    start in to be in that very directory. Closed once the start is over (close() may be called again)."""

    def __init__(self, fd: int, real_path: str, start_path: str) -> None:
        self.fd = fd
        self.real_path = real_path
        self.start_path = start_path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def pin_directory(path: str) -> PinnedDirectory:
    """Open the directory at `path` (symlinks followed, once) and hold it; OSError naming `path` if it cannot
    be opened (ENOENT, ENOTDIR, EACCES, ...). See above for what holds where."""
    fd = os.open(path, (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        real = _real_path(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return PinnedDirectory(fd, real, f"/proc/self/fd/{fd}" if _descriptor_paths() else real)


def real_directory(path: str) -> str:
    """The real path of the directory at `path`, found as pin_directory finds it; OSError if there is none."""
    pinned = pin_directory(path)
    pinned.close()
    return pinned.real_path


class PinnedFile:
    """A program file held open from the time the scope checked it, for the sidecar's lifetime.

    `exec_path` runs that very file whatever is at its path by then (Linux: /proc/self/fd/N; None elsewhere);
    a child executing through it must keep N open until its exec, and a `#!` script beyond, for its interpreter
    reads the script through that path after the exec. `still_at(path)` is the check where `exec_path` is None:
    whether the file at `path` now is this one."""

    def __init__(self, fd: int, identity: tuple[int, int], exec_path: str | None) -> None:
        self.fd = fd
        self.identity = identity
        self.exec_path = exec_path

    def still_at(self, path: str) -> bool:
        try:
            found = os.stat(path)
        except OSError:
            return False
        return (found.st_dev, found.st_ino) == self.identity


def pin_file(path: str) -> PinnedFile | None:
    """Open the regular file at `path` and hold it (see PinnedFile); None if there is no such file."""
    import stat

    try:
        fd = os.open(path, (_O_PATH or os.O_RDONLY) | os.O_CLOEXEC)
    except OSError:
        if _O_PATH:
            return None
        try:  # an execute-only program (--x): held by identity alone, its inode not kept from reuse
            found = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(found.st_mode):
            return None
        return PinnedFile(-1, (found.st_dev, found.st_ino), None)
    held = os.fstat(fd)
    if not stat.S_ISREG(held.st_mode):
        os.close(fd)
        return None
    descriptor_path = f"/proc/self/fd/{fd}" if _descriptor_paths() else None
    return PinnedFile(fd, (held.st_dev, held.st_ino), descriptor_path)


# -- children and their trees ------------------------------------------------------------------------------


def process_group(pid: int) -> int:
    """The process group of `pid`; OSError if it is gone."""
    return os.getpgid(pid)


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to every process of a group; whether it had any (nothing is sent to an empty group)."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def signal_process(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def process_links() -> dict[int, tuple[int, int | None]] | None:
    """Every process's (parent, process group), from one cheap read of /proc (Linux: about 6 us a process,
    a quarter of what psutil takes); None elsewhere."""
    if not LINUX:
        return None
    links: dict[int, tuple[int, int | None]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        text = _read_proc_file(f"/proc/{entry.name}/stat", whole=False)
        if text is None:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so split after the last ')'.
        fields = text[text.rindex(b")") + 2 :].split(b" ", 3)
        links[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return links


def descendant_links(exclude: frozenset[int] = frozenset()) -> dict[int, tuple[int, int | None]] | None:
    """This process's descendants, each with its parent (pid -> (parent, None): the group is not read), found by
    following each process's lists of children down from this one (Linux, as own_children), not by reading
    every process on the machine: the cost follows the size of the sidecar's own tree. What lies below a pid in
    `exclude` is left out. None where the kernel has no such lists. A snapshot, as own_children says."""
    if not _HAS_CHILDREN_FILES:
        return None
    links: dict[int, tuple[int, int | None]] = {}
    pending = [os.getpid()]
    while pending:
        parent = pending.pop()
        for pid in _children_of(parent):
            if pid not in links and pid not in exclude:  # (a pid reused between two reads must not loop)
                links[pid] = (parent, None)
                pending.append(pid)
    return links


def _children_of(pid: int) -> set[int]:
    """The children of `pid` from each of its threads' lists (a child is listed under the thread that
    started it); empty if `pid` is gone."""
    children: set[int] = set()
    try:
        tasks = list(os.scandir(f"/proc/{pid}/task"))
    except OSError:
        return children
    for task in tasks:
        listing = _read_proc_file(f"/proc/{pid}/task/{task.name}/children", whole=True)
        if listing is not None:  # else the thread ended meanwhile
            children.update(int(child) for child in listing.split())
    return children


def own_children() -> set[int] | None:
    """The pids of this process's children, from each thread's /proc/self/task/<tid>/children (Linux 3.5+ with
    CONFIG_PROC_CHILDREN): a few short reads; on a kernel without those lists, from process_links, which reads
    every process on the machine. None elsewhere than Linux. Like any look at the process table it is a
    snapshot: the kernel's documentation warns that a list read while children come and go can miss one (the
    orphan watch's later sweeps find it)."""
    if not _HAS_CHILDREN_FILES:
        links = process_links()
        if links is None:
            return None
        me = os.getpid()
        return {pid for pid, (parent, _) in links.items() if parent == me}
    return _children_of(os.getpid())


def _read_proc_file(path: str, *, whole: bool) -> bytes | None:
    """A file of /proc, or None if it is gone. Without `whole`, one read: enough for a file that is one short
    record (a stat line), three system calls where a file object costs eight (fstat twice, a terminal check,
    two seeks, a read that finds the end). With `whole`, reads until end of file: a list (of children) comes
    a page of whole records per read, so a short read does not mean the end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
        if not whole:
            return data
        pieces = [data]
        while data:
            data = os.read(fd, 4096)
            pieces.append(data)
        return b"".join(pieces)
    except OSError:
        return None
    finally:
        os.close(fd)


_HAS_CHILDREN_FILES = LINUX and os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def reap(pid: int) -> None:
    """Collect the exit status of `pid` if it has exited (it must be our child)."""
    os.waitpid(pid, os.WNOHANG)


def pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` exits (Linux 5.3+); -1 where there is none."""
    opener: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
    if opener is None:
        return -1
    try:
        return opener(pid)
    except OSError:
        return -1


# -- terminals ---------------------------------------------------------------------------------------------

TERMINALS = hasattr(os, "openpty") and hasattr(termios, "TIOCSCTTY")

_IUTF8 = getattr(termios, "IUTF8", 0o40000 if LINUX else 0)
"""Erase deletes whole UTF-8 characters (Python 3.11's termios lacks the constant; this is Linux's value)."""

# Reset in a terminal's child: a sidecar started in the background of a shell inherits SIGINT and SIGQUIT
# ignored, and a terminal whose ^C and ^\ do nothing is broken. Exec resets caught signals but keeps ignored ones.
_TERMINAL_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGHUP", "SIGTERM", "SIGWINCH", "SIGPIPE")
    if hasattr(signal, name)
)


def _window_size(cols: int, rows: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


def open_terminal(cols: int, rows: int) -> tuple[int, int]:
    """A new pseudo-terminal of that size, speaking UTF-8: (master, slave)."""
    master, slave = os.openpty()
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, _window_size(cols, rows))
        attributes = termios.tcgetattr(slave)
        attributes[0] |= _IUTF8  # the wire is UTF-8, so the terminal is too
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


def resize_terminal(master: int, cols: int, rows: int) -> None:
    """Set the terminal's size; the kernel sends SIGWINCH to its foreground process group."""
    fcntl.ioctl(master, termios.TIOCSWINSZ, _window_size(cols, rows))


def take_terminal(
    ioctl=fcntl.ioctl, request=termios.TIOCSCTTY, reset=signal.signal, default=signal.SIG_DFL,
    signals=_TERMINAL_SIGNALS, sigmask=signal.pthread_sigmask, setmask=signal.SIG_SETMASK,
) -> None:  # pragma: no cover - runs in the forked child, between fork and exec
    """Popen's preexec_fn for a terminal's child: make the pty slave (already on fds 0-2; Popen has called
    setsid) the controlling terminal, with the terminal signals at their defaults and none blocked.

    It touches no lock (everything it needs is bound as a default argument, nothing is imported), so the
    fork it needs is safe in the sidecar, whose only threads, when any, are idle executor threads.
    """
    ioctl(0, request, 0)
    for signum in signals:
        reset(signum, default)
    sigmask(setmask, ())


def line_settings(master: int) -> LineSettings | None:
    """How the terminal's line discipline edits input now; None if it cannot be read."""
    try:
        # On a master, Linux and the BSDs answer for the slave.
        iflag, _, _, lflag, _, _, cc = termios.tcgetattr(master)
    except (termios.error, OSError):
        return None

    def char(index: int) -> int:
        value = cc[index]
        return (value[0] if isinstance(value, bytes) else value) or -1  # 0 disables the character

    extended = bool(lflag & termios.IEXTEN)
    return LineSettings(
        canonical=bool(lflag & termios.ICANON),
        signals=bool(lflag & termios.ISIG),
        flush_on_signal=not lflag & termios.NOFLSH,
        strip=bool(iflag & termios.ISTRIP),
        ignore_cr=bool(iflag & termios.IGNCR),
        cr_to_nl=bool(iflag & termios.ICRNL),
        nl_to_cr=bool(iflag & termios.INLCR),
        flow_control=bool(iflag & termios.IXON),
        utf8=bool(iflag & _IUTF8),
        eof=char(termios.VEOF),
        line_ends=frozenset({ord("\n"), char(termios.VEOF), char(termios.VEOL)}
                            | ({char(termios.VEOL2)} if extended else set())) - {-1},
        interrupts=frozenset({char(termios.VINTR), char(termios.VQUIT), char(termios.VSUSP)}) - {-1},
        flow=frozenset({char(termios.VSTART), char(termios.VSTOP)}) - {-1},
        erase=char(termios.VERASE),
        kill=char(termios.VKILL),
        word_erase=char(termios.VWERASE) if extended else -1,
        literal_next=char(termios.VLNEXT) if extended else -1,
    )
