"""The table the sidecar shares with its guardian: what the guardian would kill is exactly what is entered and
not cleared, slots are reused, and a process is kept with its start time (the whole guardian, SIGKILL included,
is tested in test_lifecycle.py and test_guardian_window.py)."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from sidecar import system
from sidecar.processes.guardian import ENTRY, Guardian, _kill, _read_table

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def table():
    fd = system.anonymous_file("process-sidecar-test")
    yield fd
    os.close(fd)


def test_what_is_entered_and_not_cleared_is_what_the_guardian_reads(table):
    guardian = Guardian(None, table, None)
    for pgid in (101, 102, 103):
        guardian.watch_group(pgid)
    guardian.watch_process(2001, 1700000000.25)
    guardian.forget_group(102)
    guardian.forget_group(999)  # never entered: nothing to clear
    assert _read_table(table) == ({101, 103}, {2001: 1700000000.25})
    # The freed slot is taken by the next entry: the table does not grow while groups come and go.
    guardian.watch_group(104)
    assert os.fstat(table).st_size == 4 * ENTRY.size
    assert _read_table(table) == ({101, 103, 104}, {2001: 1700000000.25})
    # Entered twice (a pid reused by a new child before the first one's pipes closed): one slot, cleared once.
    guardian.watch_group(101)
    guardian.forget_group(101)
    assert _read_table(table) == ({103, 104}, {2001: 1700000000.25})
    # A process seen again with a new start time (its pid reused) keeps only the new one.
    guardian.watch_process(2001, 1700000009.5)
    assert _read_table(table) == ({103, 104}, {2001: 1700000009.5})


def test_the_table_is_shared_with_a_forked_process(table):
    guardian = Guardian(None, table, None)
    guardian.watch_group(7)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child waits for the parent's next entries, then reads the table as the guardian does
        os.close(write_end)
        os.read(read_end, 1)
        groups, processes = _read_table(table)
        os._exit(0 if (groups, processes) == ({7, 8}, {}) else 1)
    os.close(read_end)
    guardian.watch_group(8)
    os.write(write_end, b"x")
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_process_that_is_gone_is_cleared(table):
    guardian = Guardian(None, table, None)
    guardian.watch_process(3001, 1.5)
    guardian.watch_process(3002, 2.5)
    guardian.forget_process(3001)
    guardian.forget_process(3003)  # never entered: nothing to clear
    assert _read_table(table) == (set(), {3002: 2.5})
    guardian.watch_group(9)  # takes the slot 3001 left
    assert os.fstat(table).st_size == 2 * ENTRY.size


def test_the_guardian_signals_what_is_there_and_says_what_it_reached():
    # A live process group, a live single process (its start time right), a process whose pid now belongs to
    # another (start time wrong), and a group and a pid that are gone. Only the first two are signalled (SIGCONT
    # here, which harms nothing) and reported, so a guardian whose table names only the dead does not wait.
    group = subprocess.Popen(["sleep", "30"], start_new_session=True)
    single = subprocess.Popen(["sleep", "30"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        started = psutil.Process(single.pid).create_time()
        groups, processes = _kill(
            {group.pid, gone.pid}, {single.pid: started, os.getpid(): 1.0, gone.pid: 2.0}, signal.SIGCONT
        )
        assert (groups, processes) == ({group.pid}, {single.pid: started})
        assert _kill(set(), {}, signal.SIGCONT) == (set(), {})
    finally:
        for child in (group, single):
            child.kill()
            child.wait()
