#!/usr/bin/env python3
"""A minimal process-sidecar host with no dependencies: JSON lines over the sidecar's stdin and stdout.

    python3 minimal_host.py [SIDECAR ...]    (default: python3 -m sidecar; or the bundled binary's path)

It spawns a child, writes two lines to it, closes its stdin, prints its output as it streams back and its
exit, then closes the sidecar's stdin: the sidecar stops whatever still runs and exits 0.
"""

import json
import subprocess
import sys

sidecar = subprocess.Popen(
    sys.argv[1:] or [sys.executable, "-m", "sidecar"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, encoding="utf-8",
)
last_id = 0
exits = {}  # pid -> the params of its `exit` notification


def call(method, params):
    """Send a request and read until its answer, printing the notifications that come meanwhile."""
    global last_id
    last_id += 1
    request = {"jsonrpc": "2.0", "id": last_id, "method": method, "params": params}
    sidecar.stdin.write(json.dumps(request) + "\n")  # one message per line
    sidecar.stdin.flush()
    while True:
        message = read()
        if message.get("id") == last_id:
            if "error" in message:
                raise RuntimeError(message["error"]["message"])
            return message["result"]


def read():
    message = json.loads(sidecar.stdout.readline())
    if message.get("method") in ("stdout", "stderr", "exit"):  # notifications: no id
        print(f"{message['method']:7}", message["params"])
    if message.get("method") == "exit":
        exits[message["params"]["pid"]] = message["params"]
    return message


script = 'while read -r line; do echo "you said: $line"; done; echo "stdin closed" >&2; exit 3'
pid = call("spawn", {"program": "sh", "args": ["-c", script]})["pid"]
print("spawned", pid)
call("write", {"pid": pid, "data": "hello\n"})
call("write", {"pid": pid, "data": "world\n"})
call("closeStdin", {"pid": pid})
while pid not in exits:  # `exit` comes last, after every byte of output (maybe before closeStdin's answer)
    read()
sidecar.stdin.close()  # end of file: the host is done
print("sidecar exited with", sidecar.wait())
