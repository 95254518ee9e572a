"""A host that opens the raw channel: the sidecar with a pipe's write end passed to it, and a thread that
reads frames from the read end, checking each against protocol/raw-channel.json as it goes."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading

from sidecar_client import DEFAULT_TIMEOUT, PROTOCOL, Sidecar, eventually

LAYOUT = json.loads((PROTOCOL / "raw-channel.json").read_text())
HEADER = struct.Struct(">IBI")  # pid u32, stream u8, length u32, all big-endian (raw-channel.json)
assert HEADER.size == LAYOUT["headerBytes"]
STDOUT, STDERR = LAYOUT["streams"]["stdout"], LAYOUT["streams"]["stderr"]
MAX_PAYLOAD = LAYOUT["maxPayloadBytes"]


def read_exactly(fd: int, count: int) -> bytes | None:
    """`count` bytes from `fd`, or None at end of file before the first byte."""
    parts = []
    while count:
        data = os.read(fd, min(count, 1 << 20))
        if not data:
            assert not parts, "the channel ended inside a frame"
            return None
        parts.append(data)
        count -= len(data)
    return b"".join(parts)


class Stream:
    """What arrived for one stream of one child: byte count, digest, the bytes if `keep`, and the end."""

    def __init__(self, keep: bool) -> None:
        self.size = 0
        self.digest = hashlib.sha256()
        self.data = bytearray() if keep else None
        self.ends = 0
        self.frames = 0

    def add(self, payload: bytes) -> None:
        assert self.ends == 0, "a frame after the end frame"
        self.size += len(payload)
        self.digest.update(payload)
        self.frames += 1
        if self.data is not None:
            self.data += payload


class RawHost:
    """The sidecar with an open raw channel (negotiated unless negotiate=False) and a frame reader."""

    def __init__(self, *args: str, negotiate: bool = True, keep: bool = True, read: bool = True) -> None:
        self.read_fd, write_fd = os.pipe()
        self.fd = write_fd  # pass_fds keeps the number: the sidecar knows it by the same one
        self.sidecar = Sidecar(*args, pass_fds=(write_fd,))
        os.close(write_fd)  # only the sidecar holds the write end: end of file when it is gone
        self.keep = keep
        self.streams: dict[tuple[int, int], Stream] = {}
        self.eof = False
        self._lock = threading.Condition()
        if negotiate:
            result = self.sidecar.request("initialize", {"rawChannel": {"fd": self.fd}})
            assert result["capabilities"]["rawChannel"] is True, self.sidecar.stderr_lines
        if read:
            self.start_reading()

    def start_reading(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            header = read_exactly(self.read_fd, HEADER.size)
            if header is None:
                break
            pid, stream, length = HEADER.unpack(header)
            assert stream in (STDOUT, STDERR), header
            assert length <= MAX_PAYLOAD, length
            payload = read_exactly(self.read_fd, length) if length else b""
            assert payload is not None
            with self._lock:
                entry = self.streams.setdefault((pid, stream), Stream(self.keep))
                if length:
                    entry.add(payload)
                else:
                    entry.ends += 1
                self._lock.notify_all()
        with self._lock:
            self.eof = True
            self._lock.notify_all()

    def stream(self, pid: int, stream: int) -> Stream:
        with self._lock:
            return self.streams.setdefault((pid, stream), Stream(self.keep))

    def wait_ended(self, pid: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Until both end frames of `pid` have been read."""

        def ended() -> bool:
            return all(self.streams.get((pid, s)) and self.streams[(pid, s)].ends for s in (STDOUT, STDERR))

        eventually(ended, timeout, f"the end frames of {pid}", changed=self._lock)

    def wait_eof(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self.eof, timeout)

    def close(self) -> None:
        self.sidecar.kill()
        try:
            os.close(self.read_fd)
        except OSError:
            pass
