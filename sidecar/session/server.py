"""One session: wire stdin, stdout, the dispatcher and the supervisor together, and end cleanly.

The session ends on end of file on stdin (the host is gone), a `shutdown` request, the host closing our
stdout or the raw channel, the parent process dying, or SIGTERM/SIGINT/SIGHUP. However it ends, every child
tree is stopped before the sidecar exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .. import system
from ..processes.guardian import Guardian
from ..processes.orphans import OrphanWatch, become_subreaper
from ..processes.supervisor import Supervisor
from ..wire.dispatch import Dispatcher
from ..wire.framing import LineSplitter
from ..wire.raw_channel import RawChannel
from ..wire.stdin_reader import StdinReader
from ..wire.stdout_writer import StdoutWriter
from .handlers import Handlers
from .own_signals import SignalHandlers

if TYPE_CHECKING:
    from .scope import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    max_line_bytes: int = 64 * 1024 * 1024
    max_children: int = 4096
    max_collected_bytes: int = 256 * 1024 * 1024
    """The output all executes together may hold; past it, the execute that reaches it is stopped."""
    scope: Scope | None = None
    host_fds: frozenset[int] | None = None
    """The descriptors the host passed (noted at start): the only ones initialize may take as raw channel."""


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
    protocol_in, protocol_out = _take_stdio()
    ended: asyncio.Future[str] = loop.create_future()

    def end(reason: str) -> None:
        if not ended.done():
            ended.set_result(reason)

    stdout = StdoutWriter(on_host_gone=lambda: end("the host closed the sidecar's stdout"))
    await stdout.open(protocol_out)
    raw = RawChannel(on_host_gone=lambda: end("the host closed the raw channel"), host_fds=settings.host_fds)
    exclude = [guardian.pid] if guardian.pid else []
    authorize = settings.scope.authorize if settings.scope is not None else None
    supervisor = Supervisor(settings.max_children, guardian, exclude, authorize)
    supervisor.before_first_child = become_subreaper
    signals = SignalHandlers(loop)
    orphans = OrphanWatch(
        supervisor.started,
        supervisor.groups,
        lambda stray: guardian.watch_process(stray.pid, stray.create_time()),
        guardian.forget_process,
        exclude,
    )
    supervisor.on_child_started = orphans.children_started
    supervisor.on_child_finished = orphans.child_finished
    _watch_parent(end)
    handlers = Handlers(supervisor, stdout, raw, settings, on_shutdown=lambda: end("shutdown requested"))
    dispatcher = Dispatcher(handlers.by_method(), stdout.send_line)
    splitter = LineSplitter(
        settings.max_line_bytes,
        dispatcher.handle_line,
        lambda received: dispatcher.line_too_long(settings.max_line_bytes, received),
    )
    for signum in system.SESSION_END_SIGNALS:
        signals.add(signum, end, f"received {signal.Signals(signum).name}")
    reader = StdinReader(protocol_in, splitter, ended)
    stdout.throttle(reader)  # a host that does not read its answers is not read either
    reader.start()

    reason = await ended
    log.info("ending the session: %s", reason)
    handlers.flow.lift()
    await supervisor.stop_all()
    await dispatcher.idle(timeout=1.0)
    # Every exit notification is queued by now, and the end frames of raw children before them.
    await asyncio.gather(stdout.drain(timeout=5.0), raw.drain(timeout=5.0))
    raw.close()
    stdout.close()
    reader.close()
    orphans.close()
    guardian.close()
    # The session is over and the sidecar about to exit 0: a second SIGTERM (a supervisor's repeat, a
    # host's kill after shutdown) must not turn that into death by signal.
    signals.close(ignore=system.SESSION_END_SIGNALS)
    return 0
