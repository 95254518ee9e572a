"""The end-to-end test of the Tauri app: Xvfb, the app built with the `e2e` feature, and the page<->harness
line protocol (see app.py). Run with `make test-tauri`, which builds everything first."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app import App, Results

HERE = Path(__file__).resolve().parent


def app_binary() -> Path:
    explicit = os.environ.get("TAURI_APP_BIN")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path(cache) / "process-sidecar" / "cargo-target")
    return target / "release" / "process-sidecar-tauri-app"


@pytest.fixture(scope="session")
def display():
    """A private X server: Xvfb picks a free display number and writes it to a pipe (-displayfd)."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write)
    number = b""
    with os.fdopen(read, "rb") as pipe:  # blocks until Xvfb is ready; EOF if it failed
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number.decode()}"
    server.terminate()
    server.wait(10)


RESULTS = Results()


@pytest.fixture
def launch(display, request):
    """Starts the app (built with --features e2e); every app started is stopped at the end of the test."""
    binary = app_binary()
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `make test-tauri` (it builds the app with --features e2e)")
    apps: list[App] = []

    def start() -> App:
        app = App(binary, display, log_dir=HERE.parent / "target-e2e-logs", name=request.node.name)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


@pytest.fixture(scope="module")
def shared_app(display):
    """One app for the scenarios that leave it running (1-7)."""
    app = App(app_binary(), display, log_dir=HERE.parent / "target-e2e-logs", name="scenarios-1-7")
    yield app
    app.stop()


@pytest.fixture
def results():
    return RESULTS


def pytest_terminal_summary(terminalreporter):
    if RESULTS.lines:
        terminalreporter.section("Tauri app: what each scenario measured")
        for line in RESULTS.lines:
            terminalreporter.write_line(line)
