"""The app under test, seen from outside: its process, its stdout/stdin line protocol with the e2e page, and
the process table (psutil).

The protocol (src-tauri/src/e2e.rs): the page's `e2e_report` command prints `E2E <json>` on the app's stdout.
A message of type `ready`, `result` or `check` waits for one JSON line on the app's stdin: to `ready` and
`result` the harness answers `{"run": "<scenario>"}`; to `check` it answers after it looked at the process
table. Every wait here has a time limit.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

ASKS = ("ready", "result", "check")


@dataclass
class Results:
    lines: list[str] = field(default_factory=list)

    def add(self, name: str, text: str) -> None:
        self.lines.append(f"{name}: {text}")


@dataclass(frozen=True)
class Proc:
    """A process as seen at a moment: pid plus start time, so that a reused pid is never taken for it."""

    pid: int
    created: float
    name: str

    @classmethod
    def of(cls, process: psutil.Process) -> "Proc | None":
        try:
            with process.oneshot():
                return cls(process.pid, process.create_time(), process.name())
        except psutil.Error:
            return None

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return process.create_time() == self.created and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def tree(pid: int, *, include_root: bool = True) -> list[Proc]:
    """`pid` and every live descendant of it."""
    try:
        root = psutil.Process(pid)
        members = ([root] if include_root else []) + root.children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in (Proc.of(m) for m in members) if p is not None and p.alive()]


def wait_until(limit: float, condition, interval: float = 0.02):
    """Polls `condition` until it is truthy (returned) or `limit` seconds pass (then its last value)."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def left_of(procs: list[Proc]) -> list[Proc]:
    return [p for p in procs if p.alive()]


def app_binary() -> Path:
    """The test build of the app (make tauri-app-e2e): TAURI_APP_BIN, or where the Makefile's cargo target
    directory puts it."""
    explicit = os.environ.get("TAURI_APP_BIN")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path(cache) / "process-sidecar" / "cargo-target")
    return target / "release" / "process-sidecar-tauri-app"


@contextmanager
def xvfb():
    """A private X server: Xvfb picks a free display number and writes it to a pipe (-displayfd). Yields ":N"."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read, "rb") as pipe:  # blocks until Xvfb is ready; EOF if it failed
        number = pipe.readline().strip()
    try:
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number.decode()}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


class App:
    def __init__(self, binary: Path, display: str, *, log_dir: Path, name: str, env: dict[str, str] | None = None):
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self.stdout_log: list[str] = []
        self.messages: queue.Queue = queue.Queue()
        env = {
            **os.environ,
            "DISPLAY": display,
            # Under Xvfb, WebKitGTK's compositing can leave the window blank; the page runs either way.
            "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
            "NO_AT_BRIDGE": "1",  # no accessibility bus to look for
            **(env or {}),
        }
        env.pop("WAYLAND_DISPLAY", None)
        with open(self.stderr_path, "wb") as stderr:  # the app has its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=log_dir,
            )
        self.started = time.monotonic()
        self.pending: dict | None = None  # the last ask, not yet answered
        self.seen: set[Proc] = set()  # everything the app was seen to have started, for the clean-up
        self.trees: dict[int, list[Proc]] = {}  # pid -> the tree a check saw under it, for a later check
        threading.Thread(target=self._read, daemon=True).start()

    # --- the line protocol ---

    def _read(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stdout_log.append(line)
            if line.startswith("E2E "):
                self.messages.put((time.monotonic(), json.loads(line[4:])))
        self.messages.put((time.monotonic(), None))

    def message(self, timeout: float) -> tuple[float, dict]:
        """The next message from the page and when it arrived; fails after `timeout` seconds or at the app's end."""
        try:
            at, message = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message from the page within {timeout} s{self._context()}") from None
        if message is None:
            raise AssertionError(f"the app ended (status {self.process.poll()}){self._context()}")
        if message.get("type") == "fatal":
            raise AssertionError(f"the page failed: {message.get('error')}{self._context()}")
        if message.get("type") in ASKS:
            self.pending = message
        return at, message

    def expect(self, kind: str, timeout: float) -> tuple[float, dict]:
        at, message = self.message(timeout)
        assert message.get("type") == kind, f"expected a {kind!r} message, got {message}"
        return at, message

    def reply(self, answer: dict) -> float:
        assert self.pending is not None, "nothing to answer"
        self.pending = None
        self.process.stdin.write(json.dumps(answer).encode() + b"\n")
        self.process.stdin.flush()
        return time.monotonic()

    def ready(self, timeout: float = 60) -> dict:
        """Waits for the page's first `ready` (after the sidecar launched)."""
        while self.pending is None or self.pending.get("type") not in ("ready", "result"):
            self.message(timeout)
        return self.pending

    def run(self, scenario: str, timeout: float = 60, *, ask: dict | None = None,
            check: Callable[[dict], dict] | None = None) -> dict:
        """Has the page run `scenario` (with `ask`'s fields beside it), answering its checks with `check`
        (default: this app's own), and returns its result message."""
        self.ready(timeout)
        self.reply({"run": scenario, **(ask or {})})
        while True:
            _, message = self.message(timeout)
            if message["type"] == "result":
                return message
            if message["type"] == "check":
                self.reply((check or self.check)(message))
            elif message["type"] not in ("loaded",):
                raise AssertionError(f"unexpected message during {scenario}: {message}")

    # --- checks the page asks for ---

    def check(self, message: dict) -> dict:
        what, pid = message.get("what"), message.get("pid")
        if what == "tree-running":
            def both_sleeping():
                procs = tree(pid)
                return procs if sum(p.name == "sleep" for p in procs) >= 2 else None

            procs = wait_until(10, both_sleeping)
            if not procs:
                return {"ok": False, "tree": [p.name for p in tree(pid)]}
            self.trees[pid] = procs
            self.seen.update(procs)
            return {"ok": True, "pids": [p.pid for p in procs]}
        if what == "tree-gone":
            procs = self.trees.get(pid) or tree(pid)
            left = wait_until(10, lambda: not left_of(procs)) or left_of(procs)
            return {"ok": left is True, "left": [] if left is True else [p.pid for p in left]}
        if what == "sleep-under":
            found = wait_until(10, lambda: [p for p in tree(pid) if p.name == "sleep"])
            if found:
                self.trees[pid] = found
            return {"ok": bool(found)}
        if what == "no-sleep-under":
            procs = self.trees.get(pid, [])
            left = wait_until(10, lambda: not left_of(procs)) or left_of(procs)
            return {"ok": left is True}
        raise AssertionError(f"unknown check {message}")

    # --- the outside view ---

    def everything(self) -> list[Proc]:
        """The app and every live process it started (the sidecar, its children, WebKit's helpers)."""
        procs = tree(self.process.pid)
        self.seen.update(procs)
        return procs

    def _context(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace")[-3000:] if self.stderr_path.exists() else ""
        other = [line for line in self.stdout_log if not line.startswith("E2E ")][-20:]
        return f"\n--- app stdout (not E2E) ---\n{chr(10).join(other)}\n--- app stderr (tail) ---\n{stderr}"

    def stop(self) -> None:
        """At the end of a test, whatever happened: the app and all it was seen to start are killed."""
        self.everything()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for proc in left_of(list(self.seen)):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass
