"""One session: wire stdin, stdout, the dispatcher and the supervisor together, and end cleanly.

The session ends on end of file on stdin (the host is gone), a `shutdown` request, the host closing our
stdout or the raw channel, or SIGTERM/SIGINT/SIGHUP. However it ends, every child tree is stopped before
the sidecar exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

from .framing import LineSplitter
from .guardian import Guardian
from .methods import Methods
from .orphans import OrphanWatch, become_subreaper
from .outbox import Outbox
from .raw_channel import RawChannel
from .rpc import Dispatcher
from .scope import Scope
from .signal_handlers import SignalHandlers
from .supervisor import Supervisor

log = logging.getLogger(__name__)

READ_BYTES = 256 * 1024


@dataclass(frozen=True)
class Settings:
    max_line_bytes: int = 64 * 1024 * 1024
    max_children: int = 4096
    scope: Scope | None = None
    host_fds: frozenset[int] | None = None
    """The descriptors the host passed (noted at start): the only ones initialize may take as raw channel."""


class _StdinProtocol(asyncio.Protocol):
    def __init__(self, splitter: LineSplitter, on_end: "asyncio.Future[str]") -> None:
        self._splitter = splitter
        self._on_end = on_end

    def data_received(self, data: bytes) -> None:
        self._splitter.feed(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._splitter.end()
        if not self._on_end.done():
            self._on_end.set_result("end of file on stdin")


def _take_stdio() -> tuple[int, int]:
    """Take fds 0 and 1 for the protocol, and leave /dev/null and stderr in their place.

    A stray print() from any library would otherwise corrupt the protocol stream; now it goes to stderr.
    """
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    for fd in (protocol_in, protocol_out):
        os.set_inheritable(fd, False)
    return protocol_in, protocol_out


def _watch_children_with_pidfd() -> None:
    """Python 3.11's default child watcher starts a thread per child; pidfds need none (Linux 5.3+).

    Python 3.12 and later choose pidfds by themselves.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)


def _pollable(fd: int) -> bool:
    """Whether epoll accepts `fd`: pipes, sockets and terminals do; regular files and /dev/null do not."""
    try:
        poller = select.epoll()
    except (AttributeError, OSError):  # not Linux: let asyncio decide
        return True
    try:
        poller.register(fd, select.EPOLLIN)
        return True
    except OSError:
        return False
    finally:
        poller.close()


async def _read_stdin(fd: int, splitter: LineSplitter, ended: "asyncio.Future[str]") -> None:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
    # epoll refuses regular files and devices such as /dev/null (EPERM), and asyncio only finds out in a
    # later callback, after connect_read_pipe has returned: a session on /dev/null would never end.
    if _pollable(fd):
        try:
            await loop.connect_read_pipe(lambda: _StdinProtocol(splitter, ended), pipe)
            return
        except ValueError:
            pass
    # A regular file or /dev/null cannot be polled: read it on a thread instead.
    while True:
        data = await loop.run_in_executor(None, os.read, fd, READ_BYTES)
        if not data:
            break
        splitter.feed(data)
    splitter.end()
    if not ended.done():
        ended.set_result("end of file on stdin")


PARENT_CHECK_SECONDS = 1.0


def _watch_parent(end: Callable[[str], None]) -> None:
    """End the session if the process that started the sidecar dies while our stdin stays open.

    That happens when something else holds the other end of our stdin, e.g. a PyInstaller one-file
    bootloader that was SIGKILLed, or a host that passed our pipes on to a child of its own. Polling
    getppid() is cheap and, unlike PR_SET_PDEATHSIG, does not fire when only the parent's thread ends.
    """
    loop = asyncio.get_running_loop()
    parent = os.getppid()

    def check() -> None:
        if os.getppid() != parent:
            end(f"the parent process {parent} is gone")
        else:
            loop.call_later(PARENT_CHECK_SECONDS, check)

    loop.call_later(PARENT_CHECK_SECONDS, check)


async def serve(settings: Settings, guardian: Guardian) -> int:
    loop = asyncio.get_running_loop()
    _watch_children_with_pidfd()
    become_subreaper()
    protocol_in, protocol_out = _take_stdio()
    ended: asyncio.Future[str] = loop.create_future()

    def end(reason: str) -> None:
        if not ended.done():
            ended.set_result(reason)

    outbox = Outbox(on_host_gone=lambda: end("the host closed the sidecar's stdout"))
    await outbox.open(protocol_out)
    raw = RawChannel(on_host_gone=lambda: end("the host closed the raw channel"), host_fds=settings.host_fds)
    exclude = [guardian.pid] if guardian.pid else []
    supervisor = Supervisor(settings.max_children, guardian, exclude, settings.scope)
    signals = SignalHandlers(loop)
    OrphanWatch(
        supervisor.started,
        supervisor.groups,
        lambda stray: guardian.watch_process(stray.pid, stray.create_time()),
        exclude,
    ).install(signals)
    _watch_parent(end)
    methods = Methods(supervisor, outbox, raw, settings, on_shutdown=lambda: end("shutdown requested"))
    dispatcher = Dispatcher(methods.handlers(), outbox.send)
    splitter = LineSplitter(
        settings.max_line_bytes,
        dispatcher.handle_line,
        lambda received: dispatcher.line_too_long(settings.max_line_bytes, received),
    )
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signals.add(signum, end, f"received {signal.Signals(signum).name}")
    reader = loop.create_task(_read_stdin(protocol_in, splitter, ended))

    reason = await ended
    log.info("ending the session: %s", reason)
    await supervisor.stop_all()
    await dispatcher.idle(timeout=1.0)
    # Every exit notification is queued by now, and the end frames of raw children before them.
    await asyncio.gather(outbox.drain(timeout=5.0), raw.drain(timeout=5.0))
    raw.close()
    outbox.close()
    reader.cancel()
    guardian.close()
    signals.close()
    return 0
