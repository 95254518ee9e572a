"""The end-to-end test of the Tauri app: Xvfb, the app built with the `e2e` feature, and the page<->harness
line protocol (see app.py). Run with `make test-tauri`, which builds everything first."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import App, Results, app_binary, xvfb

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def display():
    """A private X server for every app of the session."""
    try:
        with xvfb() as name:
            yield name
    except RuntimeError as error:
        pytest.fail(str(error))


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
