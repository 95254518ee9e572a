"""The guardian: a tiny process that kills the children's process groups if the sidecar dies suddenly.

A clean end (shutdown, end of file on stdin, SIGTERM) stops every tree itself. But a SIGKILL or a crash
of the sidecar runs no code of ours, and on Linux PR_SET_PDEATHSIG would reach only the direct children,
not their descendants. So at start the sidecar forks this guardian and keeps the write end of a pipe to
it. The sidecar tells it every process group it starts and every one that ends. The kernel closes the
pipe when the sidecar dies, however it dies; at end of file the guardian signals every group still on
its list (SIGTERM, then SIGKILL a moment later) and exits. The guardian is in a session of its own, so a
signal to the sidecar's process group or terminal does not take it down first.

Descendants that left their group (setsid) are reported to the guardian too, when the sidecar finds
them (see orphans.OrphanWatch); one that appears and escapes in the instant before a SIGKILL of the sidecar can
still survive. Windows would use a Job Object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE instead, which the
kernel enforces by itself; macOS has no parent-death signal, so this guardian is the design there too.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from .. import system

log = logging.getLogger(__name__)

GRACE_SECONDS = 0.5
"""Between SIGTERM and SIGKILL, once the sidecar is gone."""


class Guardian:
    """The sidecar's side: tell the guardian what to kill should the sidecar die."""

    def __init__(self, pipe_fd: int | None, pid: int | None) -> None:
        self._fd = pipe_fd
        self.pid = pid

    @classmethod
    def start(cls) -> "Guardian":
        """Fork the guardian. Call before any thread or event loop exists (fork is only safe then)."""
        read_fd, write_fd = os.pipe()
        try:
            pid = system.fork()
        except OSError as exc:
            log.warning("no guardian (fork failed: %s): children may outlive a SIGKILL of the sidecar", exc)
            os.close(read_fd)
            os.close(write_fd)
            return cls(None, None)
        if pid == 0:  # pragma: no cover - runs in the forked guardian, which never returns
            os.close(write_fd)
            _guard(read_fd)
        os.close(read_fd)
        os.set_inheritable(write_fd, False)
        return cls(write_fd, pid)

    def watch_group(self, pgid: int) -> None:
        self._send(f"+g {pgid}\n")

    def forget_group(self, pgid: int) -> None:
        self._send(f"-g {pgid}\n")

    def watch_process(self, pid: int, started: float) -> None:
        """A single process (one that left its group), known by pid and start time against pid reuse."""
        self._send(f"+p {pid} {started!r}\n")

    def close(self) -> None:
        """A clean end: the list is empty by now, so the guardian just exits."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        try:
            # Lines are far shorter than PIPE_BUF, so each write is atomic; the guardian reads at once,
            # so the pipe never fills.
            os.write(self._fd, line.encode())
        except OSError as exc:
            log.warning("the guardian is gone (%s): children may outlive a SIGKILL of the sidecar", exc)
            os.close(self._fd)
            self._fd = None


def _guard(read_fd: int) -> None:  # pragma: no cover - exercised through the lifecycle tests
    """The guardian's whole life. Never returns."""
    try:
        system.leave_session()
        # Keep only the pipe and stderr: holding the host's pipes would hide the sidecar's death from it.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.closerange(3, read_fd)
        os.closerange(read_fd + 1, 1 << 16)
        for signum in system.STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        groups: set[int] = set()
        processes: dict[int, float] = {}
        pending = b""
        while True:
            data = os.read(read_fd, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                tag, *numbers = line.split()
                op, kind, number = tag[:1], tag[1:2], int(numbers[0])
                if kind == b"g":
                    groups.add(number) if op == b"+" else groups.discard(number)
                elif op == b"+":
                    processes[number] = float(numbers[1])
                else:
                    processes.pop(number, None)
        if groups or processes:
            _kill(groups, processes, signal.SIGTERM)
            time.sleep(GRACE_SECONDS)
            _kill(groups, processes, signal.SIGKILL)
    except BaseException:
        import traceback

        os.write(2, f"process-sidecar guardian failed:\n{traceback.format_exc()}".encode())
    finally:
        os._exit(0)


def _kill(groups: set[int], processes: dict[int, float], sig: int) -> None:  # pragma: no cover
    import psutil

    for pgid in groups:
        try:
            system.signal_group(pgid, sig)
        except OSError:  # EPERM: the group is gone and its id another user's now
            pass
    for pid, started in processes.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == started:  # not a new process that reuses the pid
                process.send_signal(sig)
        except psutil.Error:
            pass
