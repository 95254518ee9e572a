"""End-to-end flow control: how much of a spawned child's output may be on its way to the host.

Where the pipe to the host does not bound memory (a webview behind Tauri's IPC, which never waits for the
page; a stream over ssh), the host asks for a window in initialize (flowControl.windowBytes). Each stdout or
stderr notification of a child counts its bytes (as read from the child, before encoding) against that
child's window until the host acknowledges it with $/outputConsumed; at the window, the sidecar stops
reading that child's pipes, so the child waits on its own full pipe instead of memory growing anywhere on
the road. Windows are per child: a page that stops consuming one child's output stalls no other.
"""

from __future__ import annotations

from collections import deque

from .child import Child

WINDOW = "window"
"""The pause reason while a child's window is full."""


class OutputWindow:
    """The window of one child: the sizes of its notifications not yet acknowledged, oldest first."""

    def __init__(self, window_bytes: int) -> None:
        self.child: Child | None = None
        """The child it holds back (FlowControl.attach sets it)."""
        self._window_bytes = window_bytes
        self._sizes: deque[int] = deque()
        self._outstanding = 0
        self._paused = False
        self._lifted = False

    def sent(self, size: int) -> None:
        """A notification of `size` bytes of output is on its way."""
        self._sizes.append(size)
        self._outstanding += size
        if self._outstanding >= self._window_bytes and not (self._paused or self._lifted) and self.child is not None:
            self._paused = True
            self.child.pause_reading(WINDOW)

    def consumed(self, notifications: int) -> None:
        """The host has consumed that many more of this child's notifications."""
        for _ in range(min(notifications, len(self._sizes))):
            self._outstanding -= self._sizes.popleft()
        if self._outstanding < self._window_bytes:
            self._open()

    def lift(self) -> None:
        """From now on the output flows whatever is outstanding (the session is ending)."""
        self._lifted = True
        self._open()

    def _open(self) -> None:
        if self._paused and self.child is not None:
            self._paused = False
            self.child.resume_reading(WINDOW)


class FlowControl:
    """The windows of all spawned children, off until a host asks for them in initialize."""

    def __init__(self) -> None:
        self.window_bytes: int | None = None
        self._windows: dict[int, OutputWindow] = {}

    def new_window(self) -> OutputWindow | None:
        """A window for a child about to be spawned (None while flow control is off); attach() it."""
        return None if self.window_bytes is None else OutputWindow(self.window_bytes)

    def attach(self, window: OutputWindow, child: Child) -> None:
        """`window` holds `child` back, and acknowledgements reach it by the child's pid from its start
        until it has finished."""
        window.child = child

        def started(child: Child) -> None:
            self._windows[child.pid] = window

        def finished(child: Child) -> None:
            if self._windows.get(child.pid) is window:
                del self._windows[child.pid]

        child.on_started(started)
        child.on_finished(finished)

    def consumed(self, pid: int, notifications: int) -> None:
        window = self._windows.get(pid)
        if window is not None:
            window.consumed(notifications)

    def lift(self) -> None:
        """The session is ending: no window holds any child back any more (their output and exits go out)."""
        self.window_bytes = None
        for window in self._windows.values():
            window.lift()
