"""system.pipe_capacity, system.widen_pipe and system.SizedReads: reads of a pipe ask for little until a read
comes back full, and never for more than the pipe can hold where the system says how much that is."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from sidecar import system
from sidecar.system.sized_reads import SMALL_READ

pytestmark = pytest.mark.timeout(30)

linux_only = pytest.mark.skipif(not system.LINUX, reason="F_GETPIPE_SZ is Linux's")


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


@linux_only
def test_a_pipe_says_what_it_holds_and_other_descriptors_do_not(pipe, tmp_path):
    read_end, write_end = pipe
    assert system.pipe_capacity(read_end) == system.PIPE_BYTES
    assert system.widen_pipe(write_end, 256 * 1024) == 256 * 1024
    assert system.pipe_capacity(read_end) == 256 * 1024
    left, right = socket.socketpair()
    with left, right, open(tmp_path / "file", "wb") as file:
        assert system.pipe_capacity(left.fileno()) is None
        assert system.pipe_capacity(file.fileno()) is None


@linux_only
def test_reads_ask_for_the_pipes_capacity_only_after_a_full_read(pipe):
    read_end, write_end = pipe
    system.widen_pipe(write_end, 1024 * 1024)
    size = system.SizedReads.of(read_end, 256 * 1024)
    assert (size.next, size.most) == (SMALL_READ, 1024 * 1024)
    os.write(write_end, b"x" * (SMALL_READ + 1))
    size.got(len(os.read(read_end, size.next)))
    assert size.next == 1024 * 1024  # the pipe held more than a small read: a flood takes the largest pieces
    size.got(len(os.read(read_end, size.next)))
    assert size.next == SMALL_READ  # one byte was left: back to small reads


def test_a_descriptor_of_unknown_capacity_reads_up_to_the_most_given():
    left, right = socket.socketpair()
    with left, right:
        size = system.SizedReads.of(left.fileno(), 256 * 1024)
        assert size.next == SMALL_READ
        size.got(SMALL_READ)
        assert size.next == 256 * 1024
        size.got(256 * 1024)
        assert size.next == 256 * 1024
        size.got(5)
        assert size.next == SMALL_READ


@linux_only
def test_a_pipe_smaller_than_a_small_read_is_read_whole(pipe):
    read_end, write_end = pipe
    system.widen_pipe(write_end, 4096)
    if system.pipe_capacity(read_end) != 4096:
        pytest.skip("this kernel would not shrink the pipe")
    size = system.SizedReads.of(read_end, 256 * 1024)
    assert (size.next, size.most) == (4096, 4096)


def test_a_read_says_nothing_yet_then_the_bytes_then_the_end_and_a_failure_is_an_end():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    reads = system.SizedReads(system.PIPE_BYTES)
    failures: list[OSError] = []
    try:
        assert reads.read(read_end, failures.append) is None
        os.write(write_end, b"line\n")
        assert reads.read(read_end, failures.append) == b"line\n"
        os.close(write_end)
        assert reads.read(read_end, failures.append) == b""
        assert failures == []
    finally:
        os.close(read_end)
    not_open = 1 << 30  # above any open-file limit: EBADF
    assert reads.read(not_open, failures.append) == b""  # reported, and read as the end
    assert [failure.errno for failure in failures] == [errno.EBADF]
