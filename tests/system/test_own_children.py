"""system.own_children: the sidecar's own children, from its threads' lists (Linux), against psutil's view."""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil
import pytest

from sidecar import system

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(system.own_children() is None, reason="no /proc/<pid>/task/<tid>/children here"),
]


def test_children_started_from_any_thread_are_listed_and_grandchildren_are_not():
    started: list[subprocess.Popen] = []
    try:
        started.append(subprocess.Popen(["sleep", "30"]))
        # A child started by a thread that has ended since: the kernel moves it to a living thread's list.
        thread = threading.Thread(target=lambda: started.append(subprocess.Popen(["sleep", "30"])))
        thread.start()
        thread.join()
        # A shell with a sleep below it: the shell is a child, its sleep is not.
        shell = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
        started.append(shell)
        grandchild = None
        for _ in range(200):
            below = psutil.Process(shell.pid).children()
            if below:
                grandchild = below[0].pid
                break
            threading.Event().wait(0.01)
        assert grandchild is not None
        children = system.own_children()
        assert children is not None
        assert {child.pid for child in started} <= children
        assert grandchild not in children
        assert children == {child.pid for child in psutil.Process().children()}
    finally:
        for child in started:
            child.kill()
            child.wait()
    assert not {child.pid for child in started} & system.own_children()
