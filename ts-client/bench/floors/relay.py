"""The least a relay process can add to a round trip (the benchmark's echo floor): start a command with pipes,
copy stdin to its stdin and its stdout to stdout as bytes arrive, with poll and os.read/os.write, nothing
else (no event loop library, no framing, no JSON). Ends when the command's output ends.

    python relay.py cat
"""

import os
import select
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
assert child.stdin is not None and child.stdout is not None
to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
poll = select.poll()
poll.register(0, select.POLLIN)
poll.register(from_child, select.POLLIN)
while True:
    for fd, _ in poll.poll():
        data = os.read(fd, 65536)
        if fd == 0:
            if data:
                os.write(to_child, data)
            else:
                poll.unregister(0)
                child.stdin.close()
        elif data:
            os.write(1, data)
        else:
            sys.exit(child.wait())
