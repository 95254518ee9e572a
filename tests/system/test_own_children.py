"""system.own_children and system.descendant_links: the sidecar's children and its tree, from the kernel's lists of
children (Linux), against psutil's view and every process's parent link."""

from __future__ import annotations

import os
import subprocess
import threading

import psutil
import pytest

from sidecar import system

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(system.descendant_links() is None, reason="no /proc/<pid>/task/<tid>/children here"),
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


def test_a_list_longer_than_one_read_is_read_whole():
    # 1200 children: their pids take more than the 4096 bytes of one read of the list.
    started = [subprocess.Popen(["sleep", "30"]) for _ in range(1200)]
    try:
        assert len(" ".join(str(child.pid) for child in started)) > 4096
        children = system.own_children()
        assert children is not None and {child.pid for child in started} <= children
    finally:
        for child in started:
            child.kill()
        for child in started:
            child.wait()


def test_descendant_links_follow_the_tree_down_and_leave_out_what_is_excluded():
    # Two trees below this process: a shell with a sleep in a session of its own (a stray, as a daemon's
    # setsid makes) and a second shell whose sleep is excluded with everything below it.
    kept = subprocess.Popen(["sh", "-c", "setsid sleep 30 & wait"])
    excluded = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        def below(pid):
            return [child.pid for child in psutil.Process(pid).children()]

        for _ in range(500):
            if below(kept.pid) and below(excluded.pid):
                break
            threading.Event().wait(0.01)
        [stray] = below(kept.pid)
        [hidden] = below(excluded.pid)
        links = system.descendant_links(frozenset({excluded.pid}))
        assert links is not None
        assert links[kept.pid] == (os.getpid(), None) and links[stray] == (kept.pid, None)
        assert excluded.pid not in links and hidden not in links
        # The same tree as every process's parent link says (process_links), but for what is excluded.
        everything = system.process_links()
        assert everything is not None
        assert {pid for pid in links} == {p.pid for p in psutil.Process().children(recursive=True)} - {excluded.pid, hidden}
        assert all(everything[pid][0] == parent for pid, (parent, _) in links.items())
    finally:
        for child in (kept, excluded):
            for pid in [p.pid for p in psutil.Process(child.pid).children(recursive=True)]:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            child.kill()
            child.wait()
