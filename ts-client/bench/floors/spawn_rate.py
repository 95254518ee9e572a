"""The most executes per second any Python sidecar could answer here (the benchmark's execute ceiling): start
`true` and wait for it, N times in a row, with nothing around it (no request, no pipes, no answer), and print
the seconds it took. os.posix_spawn is what CPython's subprocess uses where it can (vfork and exec).

    python spawn_rate.py 300
"""

import os
import shutil
import sys
import time

count = int(sys.argv[1])
true = shutil.which("true")
assert true is not None
started = time.perf_counter()
for _ in range(count):
    os.waitpid(os.posix_spawn(true, [true], os.environ), 0)
print(time.perf_counter() - started)
