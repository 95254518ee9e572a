"""Learning that a child has exited, on the event loop, and reaping it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from typing import Callable

from .. import system


def watch_exit(popen: subprocess.Popen, on_exit: Callable[[int], None]) -> None:
    """Call on_exit(returncode) on the event loop once `popen` has exited, and reap it.

    A pidfd (Linux 5.3+) needs no thread; elsewhere one thread per child waits. The orphan watch never
    reaps this pid: the supervisor has it in its table from on_started until it is finished. Reaping through
    `popen` (poll, wait) also sets its returncode, so subprocess never waits for the pid again itself.
    """
    loop = asyncio.get_running_loop()
    pidfd = system.pidfd(popen.pid)
    if pidfd >= 0:

        def readable() -> None:
            returncode = popen.poll()
            if returncode is None:
                return
            loop.remove_reader(pidfd)
            os.close(pidfd)
            on_exit(returncode)

        loop.add_reader(pidfd, readable)
        return

    def wait() -> None:
        returncode = popen.wait()
        try:
            loop.call_soon_threadsafe(on_exit, returncode)
        except RuntimeError:  # the loop is closed: the session is over
            pass

    threading.Thread(target=wait, name=f"wait-{popen.pid}", daemon=True).start()
