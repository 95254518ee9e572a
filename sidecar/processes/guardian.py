"""The guardian: a tiny process that kills the children's process groups if the sidecar dies suddenly.

A clean end (shutdown, end of file on stdin, SIGTERM) stops every tree itself. But a SIGKILL or a crash
of the sidecar runs no code of ours, and on Linux PR_SET_PDEATHSIG would reach only the direct children,
not their descendants. So at start the sidecar forks this guardian, keeps the write end of a pipe to it,
and shares a table with it: a file that no directory names (system.anonymous_file), in which the sidecar
enters every process group it starts and clears every one that ends, one pwrite each. The guardian sleeps
on the pipe. The kernel closes the pipe when the sidecar dies, however it dies; at end of file the
guardian reads the table, signals every group still in it (SIGTERM, then SIGKILL a moment later, if
SIGTERM reached anything) and exits. Nothing wakes it before that: a message per child through the pipe
cost each start a wake-up of a second process (2-4% of an `execute`'s time here). The guardian is in a
session of its own, so a signal to the sidecar's process group or terminal does not take it down first.

Descendants that left their group (setsid) are entered too, when the sidecar finds them (see
orphans.OrphanWatch); one that appears and escapes in the instant before a SIGKILL of the sidecar can
still survive. Windows would use a Job Object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE instead, which the
kernel enforces by itself; macOS has no parent-death signal, so this guardian is the design there too.
"""

from __future__ import annotations

import logging
import os
import signal
import struct
import time

from .. import system

log = logging.getLogger(__name__)

GRACE_SECONDS = 0.5
"""Between SIGTERM and SIGKILL, once the sidecar is gone."""

ENTRY = struct.Struct("<qd")
"""One slot of the table: (-pgid, 0.0) for a process group; (pid, start time) for a single process, whose
start time tells it from a later process with the same pid; (0, 0.0) for a free slot."""
_FREE = ENTRY.pack(0, 0.0)


class Guardian:
    """The sidecar's side: tell the guardian what to kill should the sidecar die."""

    def __init__(self, pipe_fd: int | None, table_fd: int | None, pid: int | None) -> None:
        self._fd = pipe_fd
        self._table = table_fd
        self.pid = pid
        self._slots: dict[int, int] = {}  # -pgid or pid, as in ENTRY -> its slot
        self._free: list[int] = []
        self._used = 0

    @classmethod
    def start(cls) -> "Guardian":
        """Fork the guardian. Call before any thread or event loop exists (fork is only safe then)."""
        try:
            table_fd = system.anonymous_file("process-sidecar-guardian")
        except OSError as exc:
            log.warning("no guardian (no table for it: %s): children may outlive a SIGKILL of the sidecar", exc)
            return cls(None, None, None)
        read_fd, write_fd = os.pipe()
        try:
            pid = system.fork()
        except OSError as exc:
            log.warning("no guardian (fork failed: %s): children may outlive a SIGKILL of the sidecar", exc)
            for fd in (read_fd, write_fd, table_fd):
                os.close(fd)
            return cls(None, None, None)
        if pid == 0:  # pragma: no cover - runs in the forked guardian, which never returns
            os.close(write_fd)
            _guard(read_fd, table_fd)
        os.close(read_fd)
        os.set_inheritable(write_fd, False)
        return cls(write_fd, table_fd, pid)

    def watch_group(self, pgid: int) -> None:
        self._enter(-pgid, 0.0)

    def forget_group(self, pgid: int) -> None:
        self._clear(-pgid)

    def watch_process(self, pid: int, started: float) -> None:
        """A single process (one that left its group), known by pid and start time against pid reuse."""
        self._enter(pid, started)

    def forget_process(self, pid: int) -> None:
        """A single process that is gone: its slot is free again (a long session may see many)."""
        self._clear(pid)

    def close(self) -> None:
        """A clean end: the table holds no group by now, so the guardian just exits."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._table is not None:
            os.close(self._table)
            self._table = None
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None

    def _enter(self, key: int, started: float) -> None:
        slot = self._slots.get(key)
        if slot is None:
            if self._free:
                slot = self._free.pop()
            else:
                slot, self._used = self._used, self._used + 1
            self._slots[key] = slot
        self._write(slot, ENTRY.pack(key, started))

    def _clear(self, key: int) -> None:
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._write(slot, _FREE)
            self._free.append(slot)

    def _write(self, slot: int, entry: bytes) -> None:
        if self._table is None:
            return
        try:
            os.pwrite(self._table, entry, slot * ENTRY.size)
        except OSError as exc:  # ENOSPC, ENOMEM: the table cannot grow
            log.warning("the guardian's table failed (%s): children may outlive a SIGKILL of the sidecar", exc)
            os.close(self._table)
            self._table = None


def _guard(read_fd: int, table_fd: int) -> None:  # pragma: no cover - exercised through the lifecycle tests
    """The guardian's whole life. Never returns."""
    try:
        system.leave_session()
        # Keep only the pipe, the table and stderr: holding the host's pipes would hide the sidecar's death from it.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        low = 3
        for keep in sorted((read_fd, table_fd)):
            os.closerange(low, keep)
            low = keep + 1
        os.closerange(low, 1 << 16)
        for signum in system.STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        while os.read(read_fd, 4096):  # nothing is sent: this waits for end of file
            pass
        groups, processes = _read_table(table_fd)
        # After a clean end the table may still name strays that died since the last sweep: nothing to wait for.
        groups, processes = _kill(groups, processes, signal.SIGTERM)
        if groups or processes:
            time.sleep(GRACE_SECONDS)
            _kill(groups, processes, signal.SIGKILL)
    except BaseException:
        import traceback

        os.write(2, f"process-sidecar guardian failed:\n{traceback.format_exc()}".encode())
    finally:
        os._exit(0)


def _read_table(table_fd: int) -> tuple[set[int], dict[int, float]]:
    """The groups and single processes in the table, as the sidecar left it."""
    data = b""
    while True:
        piece = os.pread(table_fd, 1 << 20, len(data))
        if not piece:
            break
        data += piece
    groups: set[int] = set()
    processes: dict[int, float] = {}
    for key, started in ENTRY.iter_unpack(data[: len(data) - len(data) % ENTRY.size]):
        if key < 0:
            groups.add(-key)
        elif key > 0:
            processes[key] = started
    return groups, processes


def _kill(groups: set[int], processes: dict[int, float], sig: int) -> tuple[set[int], dict[int, float]]:
    """Send `sig` to each group and process still there; returns those it reached."""
    reached_groups = set()
    for pgid in groups:
        try:
            if system.signal_group(pgid, sig):
                reached_groups.add(pgid)
        except OSError:  # EPERM: the group is gone and its id another user's now
            continue
    reached: dict[int, float] = {}
    if processes:
        import psutil  # only here: a guardian with nothing but groups to stop needs none of it

        for pid, started in processes.items():
            try:
                process = psutil.Process(pid)
                if process.create_time() == started:  # not a new process that reuses the pid
                    process.send_signal(sig)
                    reached[pid] = started
            except psutil.Error:
                continue
    return reached_groups, reached
