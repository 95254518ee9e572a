"""A child for `spawn`, wired to the host: what its output and its end become on the wire.

- Its output goes out as `stdout`/`stderr` notifications (or, with encoding raw, as frames on the raw
  channel), and reading it pauses whenever the pipe it goes to is full (the host is not reading).
- Nothing of it reaches the wire before the spawn answer: its notifications are held, and its pipes not
  read further, until announce() (called once the answer is queued). Frames could go before the answer,
  the protocol allows that, but a raw child waits too: one rule for all.
- Its `exit` notification is sent once it is finished: exited, and its output all sent (a raw child's end
  frames are written to the channel before it finishes).
- With flow control (output_window), its notifications count against its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..wire.host_pipe import HostPipe
from ..wire.raw_channel import RawChannel
from .child import Child
from .launch import LaunchSpec
from .output_sinks import CHUNK_BYTES, FramedOutput, HeldNotifications, StreamedOutput
from .output_window import FlowControl
from .pipe_child import PipeChild
from .terminal_child import TerminalChild

UNANNOUNCED = "unannounced"
"""The pause reason that holds a child's output until its spawn answer is out."""


@dataclass(frozen=True)
class HostRoutes:
    """Where the output of spawned children goes."""

    notify: Callable[[str, dict], None]
    """Send a notification (the stdout writer's notify)."""
    stdout: HostPipe
    """The pipe that notifications take: it pauses the children that feed it."""
    raw: RawChannel
    """The raw channel, for encoding raw (open or not)."""
    flow: FlowControl
    """The windows of flow control (notifications only: frames have the raw channel's own backpressure)."""
    notification_bytes: int = CHUNK_BYTES
    """The most output bytes per notification (initialize notificationBytes)."""


class SpawnedChild:
    """One spawned child and its wiring; `child` goes to the supervisor, announce() after the answer."""

    def __init__(self, spec: LaunchSpec, routes: HostRoutes, *, raw: bool, pty: tuple[int, int] | None) -> None:
        self._held = HeldNotifications(routes.notify)
        pid = lambda: self.child.pid  # noqa: E731 - the pid exists only once the child does
        self.child: Child
        window = None if raw else routes.flow.new_window()
        if pty is not None:
            # A terminal merges the child's stdout and stderr; it all comes as stdout (stderr only ends).
            output = (
                FramedOutput(routes.raw, "stdout", pid, also_ends=("stderr",)) if raw
                else StreamedOutput("stdout", spec.encoding, pid, self._held, window, routes.notification_bytes)
            )
            self.child = TerminalChild(output, cols=pty[0], rows=pty[1])
        elif raw:
            self.child = PipeChild(
                FramedOutput(routes.raw, "stdout", pid),
                FramedOutput(routes.raw, "stderr", pid),
                stdin_pipe=spec.stdin_pipe,
            )
        else:
            size = routes.notification_bytes
            self.child = PipeChild(
                StreamedOutput("stdout", spec.encoding, pid, self._held, window, size),
                StreamedOutput("stderr", spec.encoding, pid, self._held, window, size),
                stdin_pipe=spec.stdin_pipe,
                piece_bytes=size,
            )
        if window is not None:
            routes.flow.attach(window, self.child)
        # Raw output is throttled by the channel it goes to; notifications by stdout.
        throttle = routes.raw if raw else routes.stdout
        self.child.pause_reading(UNANNOUNCED)
        self.child.on_started(throttle.throttle)

        def finished(child: Child) -> None:
            throttle.release(child)
            code, sig = child.exit_status
            self._held.notify("exit", {"pid": child.pid, "code": code, "signal": sig})

        self.child.on_finished(finished)

    def announce(self) -> None:
        """The spawn answer is queued: what the child wrote meanwhile goes out, and reading resumes."""
        self._held.release()
        self.child.resume_reading(UNANNOUNCED)
