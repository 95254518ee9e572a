"""Issue #12: the example app, run for real (WebKitGTK under Xvfb, @tauri-apps/plugin-shell, the bundled
one-file sidecar), each scenario checked inside the page (tests/page/e2e.ts) and, where it is about processes,
from outside with psutil.

"Nothing left" means: no process of the snapshot taken while the children ran is alive (zombies count as
gone). For the window closing and the app being killed, the snapshot is everything the app started: the
sidecar's bootloader, the sidecar, its guardian, the children and grandchildren, and WebKit's own helper
processes (WebKitWebProcess, WebKitNetworkProcess); for a reload, the old page's sidecar and all under it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from app import App, Proc, left_of, tree, wait_until

# Starting the app (WebKit, the one-file sidecar unpacking itself) takes seconds on a busy 2-core machine;
# every wait inside has its own limit.
pytestmark = pytest.mark.timeout(180)


def scenario(app: App, name: str, results, timeout: float = 60) -> dict:
    result = app.run(name, timeout)
    assert result["ok"], f"{name}: {result.get('error')}\n{result.get('stack') or ''}"
    results.add(name, f"ok in {result['ms']} ms {result.get('detail')}")
    return result["detail"]


def describe(procs: list[Proc]) -> str:
    return ", ".join(f"{p.name}[{p.pid}]" for p in procs)


# --- 1-7: one app, the scenarios in turn -------------------------------------------------------------------


def test_01_execute(shared_app, results):
    detail = scenario(shared_app, "execute", results)
    assert detail["result"] == {"code": 3, "signal": None, "stdout": "out\n", "stderr": "err\n"}


def test_02_spawn_stream_write_close_stdin(shared_app, results):
    detail = scenario(shared_app, "stream", results)
    assert detail["events"] == ["one\n", "two\n", "name? ", "hello world\n", "more\n", "end\n", "close"]


def test_03_exact_bytes_16_mib_raw(shared_app, results):
    detail = scenario(shared_app, "bytes", results, timeout=240)
    assert len(detail["sha256"]) == 64


def test_04_kill_a_tree(shared_app, results):
    detail = scenario(shared_app, "kill", results)
    assert detail["close"] == {"code": None, "signal": 15}


def test_05_terminal(shared_app, results):
    scenario(shared_app, "terminal", results)


def test_06_errors(shared_app, results):
    detail = scenario(shared_app, "errors", results)
    assert detail["outside"]["codeName"] == "ScopeDenied"
    assert "process-sidecar-e2e-no-such-program" in detail["missing"]["message"]


def test_07_child_from_a_plain_pid(shared_app, results):
    detail = scenario(shared_app, "childFromPid", results)
    assert detail["lines"] == ["ping\n"]
    assert detail["status"] == {"code": None, "signal": 15}


# --- 8-11: the life cycle, an app each ---------------------------------------------------------------------


def test_08_reload_ends_the_old_sidecar(launch, results):
    app = launch()
    first = app.ready()
    assert first["load"] == 1
    app.reply({"run": "reload"})
    # Each tree is confirmed running, then the page asks the harness to look before it reloads.
    message = _until_before(app, "before-reload")
    old_sidecar = message["sidecar"]
    old = tree(old_sidecar)
    names = [p.name for p in old]
    assert names.count("sleep") == 4 and len(old) >= 2 + 6, f"the old sidecar's tree: {describe(old)}"
    app.seen.update(old)
    asked = app.reply({"ok": True})  # the page calls location.reload() on this answer

    at, loaded = app.expect("loaded", 60)  # the new page's first message, before it launches anything
    assert loaded["load"] == 2 and loaded["staleSidecars"] == [old_sidecar]
    left = wait_until(2 - (time.monotonic() - at), lambda: not left_of(old)) or left_of(old)
    seconds = time.monotonic() - at
    assert left is True, f"{seconds:.2f} s after the new page's launch, still there: {describe(left)}"
    results.add("reload", f"the old sidecar and its {len(old) - 1} descendants gone {seconds:.2f} s after the new page's launch "
                f"({time.monotonic() - asked:.2f} s after the reload was asked)")

    ready = app.ready()
    assert ready["load"] == 2 and ready["sidecar"] != old_sidecar
    detail = scenario(app, "execute", results)  # the new page works
    assert detail["result"]["code"] == 3


def _until_before(app: App, what: str) -> dict:
    while True:
        _, message = app.message(60)
        assert message["type"] == "check", message
        if message["what"] == what:
            return message
        app.reply(app.check(message))


def _started_by(app: App) -> list[Proc]:
    everything = app.everything()
    return [p for p in everything if p.pid != app.process.pid]


def _run_until(launch, scenario: str, before: str) -> tuple[App, list[Proc]]:
    """Starts `scenario` in a new app and lets it run up to its check `before`: then the app, what it started."""
    app = launch()
    app.ready()
    app.reply({"run": scenario})
    _until_before(app, before)
    return app, _started_by(app)


def test_09_window_closed(launch, results):
    app, started = _run_until(launch, "closeWindow", "before-close")
    assert sum(p.name == "sleep" for p in started) == 2, describe(started)
    at = app.reply({"ok": True})
    left = wait_until(2, lambda: not left_of(started)) or left_of(started)
    seconds = time.monotonic() - at
    assert left is True, f"{seconds:.2f} s after the window was closed, still there: {describe(left)}"
    status = app.process.wait(10)
    results.add("closeWindow", f"{len(started)} processes ({describe(started)}) gone in {seconds:.2f} s; app exited {status}")


def test_10_app_killed(launch, results):
    app, started = _run_until(launch, "appKilled", "before-kill")
    assert sum(p.name == "sleep" for p in started) == 2, describe(started)
    os.kill(app.process.pid, signal.SIGKILL)
    at = time.monotonic()
    app.process.wait(10)
    left = wait_until(3, lambda: not left_of(started)) or left_of(started)
    seconds = time.monotonic() - at
    assert left is True, f"{seconds:.2f} s after SIGKILL, still there: {describe(left)}"
    results.add("appKilled", f"{len(started)} processes ({describe(started)}) gone in {seconds:.2f} s")


def test_11_dispose_then_close(launch, results):
    app, started = _run_until(launch, "dispose", "before-dispose")
    app.reply({"ok": True})
    _, result = app.expect("result", 60)
    assert result["ok"], result.get("error")
    assert result["detail"]["closes"] == [{"code": None, "signal": 15}] * 2
    results.add("dispose", f"ok in {result['ms']} ms {result['detail']}")
    status = app.process.wait(10)  # the page closes the window after reporting
    left = wait_until(2, lambda: not left_of(started)) or left_of(started)
    assert left is True, f"after dispose and close, still there: {describe(left)}"
    assert status == 0
