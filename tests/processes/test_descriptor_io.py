"""The child's descriptors read and written on the event loop (sidecar.processes.descriptor_io), on real pipes.

What the children rely on: a write resolves only once its bytes are in the pipe, writes keep their order, a
reader that went away fails every write queued, and a paused reader leaves the bytes in the pipe.
"""

from __future__ import annotations

import asyncio
import errno
import os

import pytest

from sidecar.processes.descriptor_io import PipeReader, QueuedWriter


def run(coroutine):  # every test here is bounded: pytest-timeout's 60 s, and wait_for below
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def nonblocking_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    return read_end, write_end


def drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_write_resolves_only_once_its_bytes_are_in_the_pipe_and_writes_keep_their_order():
    async def scenario() -> None:
        read_end, write_end = nonblocking_pipe()
        writer = QueuedWriter(write_end, lambda exc: exc)
        big = os.urandom(4 * 1024 * 1024)  # far more than a pipe holds
        first = asyncio.ensure_future(writer.write(big))
        second = asyncio.ensure_future(writer.write(b"after"))
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()
        flushed: list[str] = []
        writer.when_flushed(lambda: flushed.append("flushed"))
        received = bytearray()
        while not second.done():
            received += drain(read_end)
            await asyncio.sleep(0.001)
        received += drain(read_end)
        assert first.done() and bytes(received) == big + b"after"
        assert flushed == ["flushed"]
        writer.when_flushed(lambda: flushed.append("at once"))
        assert flushed == ["flushed", "at once"]
        os.close(read_end)
        os.close(write_end)

    run(scenario())


def test_when_the_reader_is_gone_the_write_and_every_write_queued_behind_it_fail():
    async def scenario() -> None:
        read_end, write_end = nonblocking_pipe()
        failures: list[int] = []

        def error_for(exc: OSError) -> Exception:
            failures.append(exc.errno or 0)
            return RuntimeError(f"gone: {exc.errno}")

        writer = QueuedWriter(write_end, error_for)
        stuck = asyncio.ensure_future(writer.write(os.urandom(1024 * 1024)))
        behind = asyncio.ensure_future(writer.write(b"behind"))
        await asyncio.sleep(0.02)
        os.close(read_end)
        results = await asyncio.gather(stuck, behind, return_exceptions=True)
        assert [str(result) for result in results] == [f"gone: {errno.EPIPE}"] * 2
        assert failures == [errno.EPIPE]
        with pytest.raises(RuntimeError, match="gone"):  # with nothing queued: at once, from the write itself
            await writer.write(b"again")
        os.close(write_end)

    run(scenario())


def test_a_paused_reader_leaves_the_bytes_in_the_pipe_and_ends_once_at_end_of_file():
    async def scenario() -> None:
        read_end, write_end = nonblocking_pipe()
        received: list[bytes] = []
        ended: list[str] = []
        reader = PipeReader(read_end, received.append, lambda: ended.append("end"))
        os.write(write_end, b"one")
        await asyncio.sleep(0.02)
        assert received == []  # not reading until asked
        reader.set_reading(True)
        await asyncio.sleep(0.02)
        assert received == [b"one"]
        reader.set_reading(False)
        os.write(write_end, b"two")
        os.close(write_end)
        await asyncio.sleep(0.02)
        assert received == [b"one"] and ended == []
        reader.set_reading(True)
        for _ in range(100):
            if ended:
                break
            await asyncio.sleep(0.01)
        assert received == [b"one", b"two"] and ended == ["end"] and reader.ended
        with pytest.raises(OSError):  # the reader closed its descriptor
            os.fstat(read_end)
        reader.end()
        assert ended == ["end"]

    run(scenario())
