"""A minimal host for the tests: the real sidecar (`python -m sidecar`, or the bundled binary) over real pipes.

Every message the sidecar sends is checked against protocol/ with the reference JSON Schema validator
(jsonschema): responses against their method's result schema, errors against errors.json, notifications
against their params schema. So every test also proves that the sidecar speaks the protocol as written.
"""

from __future__ import annotations

import base64
import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import jsonschema
import psutil
from referencing import Registry
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parent.parent
PROTOCOL = REPO / "protocol"
DEFAULT_TIMEOUT = 15.0
PYTHON_SIDECAR = (sys.executable, "-m", "sidecar")
POLL_SECONDS = 0.02

T = TypeVar("T")


def eventually(
    condition: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    *,
    changed: threading.Condition | None = None,
    interval: float = POLL_SECONDS,
) -> T:
    """Wait until `condition()` is true, for at most `timeout` seconds; its (true) value, or TimeoutError
    naming `what`.

    With `changed`, a threading.Condition notified whenever what `condition` reads changes, it waits on that
    and calls `condition` holding its lock; without, it asks again every `interval` (files, processes).
    """
    if changed is not None:
        with changed:
            value = changed.wait_for(condition, timeout)
    else:
        deadline = time.monotonic() + timeout
        while not (value := condition()) and time.monotonic() < deadline:
            time.sleep(interval)
    if not value:
        raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
    return value


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


class ProtocolChecker:
    """Validates messages from the sidecar against protocol/ with jsonschema."""

    def __init__(self) -> None:
        self.schemas = {p.name: _load(p) for p in (PROTOCOL / "schemas").glob("*.json")}
        # $refs name schema files ("common.json#/$defs/pid"): register each document under its file name.
        self.registry = Registry().with_resources(
            (name, DRAFT202012.create_resource(doc)) for name, doc in self.schemas.items()
        )
        self.methods = {m["name"]: m for m in _load(PROTOCOL / "methods.json")["methods"]}
        errors = _load(PROTOCOL / "errors.json")
        self.errors = {e["code"]: e for e in errors["errors"]}
        self.error_defs = errors.get("$defs", {})

    def validator(self, schema_file: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(self.schemas[schema_file], registry=self.registry)

    def check_value(self, schema_file: str, value: Any) -> None:
        self.validator(schema_file).validate(value)

    def check_response(self, method: str | None, message: dict) -> None:
        assert message.get("jsonrpc") == "2.0", message
        if "error" in message:
            error = message["error"]
            assert set(error) <= {"code", "message", "data"}, error
            assert error["code"] in self.errors, f"undeclared error code {error['code']}"
            assert isinstance(error["message"], str) and error["message"], error
            declared = self.errors[error["code"]]
            if "data" in declared and "data" in error:
                schema = {**declared["data"], "$defs": self.error_defs}
                jsonschema.Draft202012Validator(schema).validate(error["data"])
            if method is not None and method in self.methods:
                allowed = set(self.methods[method].get("errors", [])) | {"InternalError"}
                assert declared["name"] in allowed, f"{method} answered {declared['name']}, not in methods.json"
        else:
            assert "result" in message, message
            if method is not None and method in self.methods:
                result_file = self.methods[method]["result"].rpartition("/")[2]
                self.check_value(result_file, message["result"])

    def check_notification(self, message: dict) -> None:
        entry = self.methods.get(message["method"])
        assert entry is not None and entry["direction"] == "sidecar-to-host", message
        self.check_value(entry["params"].rpartition("/")[2], message["params"])


CHECKER = ProtocolChecker()


class SidecarError(Exception):
    def __init__(self, error: dict) -> None:
        super().__init__(error["message"])
        self.code = error["code"]
        self.message = error["message"]
        self.data = error.get("data")


class Sidecar:
    """The sidecar as a child process, with a thread that reads and checks its stdout.

    `command` runs it (`python -m sidecar` unless told otherwise, e.g. the bundled binary); `args` follow it.
    """

    def __init__(
        self,
        *args: str,
        command: Sequence[str] = PYTHON_SIDECAR,
        env: dict | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=pass_fds,  # keeps the numbers: a descriptor is the same number in the sidecar
        )
        self._ids = itertools.count(1)
        self._methods: dict[Any, str] = {}
        self._inbox: "queue.Queue[dict | list | None]" = queue.Queue()
        self.responses: dict[Any, dict] = {}
        self.notifications: list[dict] = []
        self.received: list[dict] = []  # every response and notification, in the order they came
        self._by_pid: dict[int, list[dict]] = {}
        self._lock = threading.Condition()
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    # -- reading ---------------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            with self._lock:
                self._record(message)
                self._lock.notify_all()
            self._inbox.put(message)
        with self._lock:
            self._inbox.put(None)
            self._lock.notify_all()

    def _record(self, message: Any) -> None:
        for item in message if isinstance(message, list) else [message]:
            self.received.append(item)
            if "method" in item:
                CHECKER.check_notification(item)
                self.notifications.append(item)
                self._by_pid.setdefault(item["params"]["pid"], []).append(item)
            else:
                CHECKER.check_response(self._methods.get(item.get("id")), item)
                self.responses[item.get("id")] = item

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode(errors="replace"))

    def all_stderr(self, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Every line the sidecar logged, once its stderr has closed (it has exited)."""
        self._stderr_reader.join(timeout)
        assert not self._stderr_reader.is_alive(), "the sidecar's stderr is still open"
        return self.stderr_lines

    def next_message(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """The next thing the sidecar wrote (a dict or a batch list), in order."""
        return self._inbox.get(timeout=timeout)

    def wait_for(self, predicate, timeout: float = DEFAULT_TIMEOUT, what: str = "condition") -> None:
        """Until `predicate()` is true; it is asked again each time a message arrives."""
        eventually(predicate, timeout, what, changed=self._lock)

    # -- writing ---------------------------------------------------------------------------------------

    def send_line(self, line: bytes | str) -> None:
        assert self.proc.stdin is not None
        if isinstance(line, str):
            line = line.encode()
        self.proc.stdin.write(line if line.endswith(b"\n") else line + b"\n")
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_line(json.dumps(message))

    def start_request(self, method: str, params: Any = None, request_id: Any = None) -> Any:
        request_id = next(self._ids) if request_id is None else request_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._methods[request_id] = method
        self.send(message)
        return request_id

    def response(self, request_id: Any, timeout: float = DEFAULT_TIMEOUT) -> dict:
        self.wait_for(lambda: request_id in self.responses, timeout, f"the response to {request_id}")
        return self.responses[request_id]

    def result(self, request_id: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        response = self.response(request_id, timeout)
        if "error" in response:
            raise SidecarError(response["error"])
        return response["result"]

    def request(self, method: str, params: Any = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return self.result(self.start_request(method, params), timeout)

    def error(self, method: str, params: Any = None, timeout: float = DEFAULT_TIMEOUT) -> SidecarError:
        response = self.response(self.start_request(method, params), timeout)
        assert "error" in response, f"expected an error, got {response}"
        return SidecarError(response["error"])

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    # -- processes -------------------------------------------------------------------------------------

    def spawn(self, program: str, *args: str, **options: Any) -> int:
        return self.request("spawn", {"program": program, "args": list(args), **options})["pid"]

    def events(self, pid: int) -> list[dict]:
        with self._lock:
            return list(self._by_pid.get(pid, ()))

    def wait_exit(self, pid: int, timeout: float = DEFAULT_TIMEOUT) -> dict:
        def exited() -> bool:
            events = self._by_pid.get(pid)
            return bool(events) and events[-1]["method"] == "exit"

        self.wait_for(exited, timeout, f"the exit of {pid}")
        return next(n["params"] for n in self.events(pid) if n["method"] == "exit")

    def output(self, pid: int, stream: str = "stdout") -> str:
        return "".join(n["params"]["data"] for n in self.events(pid) if n["method"] == stream)

    def output_bytes(self, pid: int, stream: str = "stdout") -> bytes:
        return b"".join(base64.b64decode(n["params"]["data"]) for n in self.events(pid) if n["method"] == stream)

    def run(self, program: str, *args: str, **options: Any) -> tuple[dict, str, str]:
        """Spawn, wait for exit; (exit params, stdout, stderr)."""
        pid = self.spawn(program, *args, **options)
        status = self.wait_exit(pid)
        return status, self.output(pid), self.output(pid, "stderr")

    # -- ending ----------------------------------------------------------------------------------------

    def close(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """End of file on the sidecar's stdin; returns its exit status."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def python(code: str) -> list[str]:
    """argv running a Python snippet as a child program."""
    return [sys.executable, "-c", code]


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Wait until none of `pids` is alive (zombies count as gone); returns those still alive."""
    alive = list(pids)

    def all_gone() -> bool:
        alive[:] = [pid for pid in alive if _alive(pid)]  # once gone, never asked again (its pid may be reused)
        return not alive

    try:
        eventually(all_gone, timeout, f"{pids} to be gone")
    except TimeoutError:
        pass
    return alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def spawned_before_output(sidecar: Sidecar, ids: list[Any], timeout: float = 20.0) -> set[int]:
    """Wait until each spawn request in `ids` is answered and each answered child has exited, then assert,
    in the order the sidecar wrote them, that no notification for a pid comes before its spawn answer. The
    pids."""

    def exited(pid: int) -> bool:
        events = sidecar.events(pid)
        return bool(events) and events[-1]["method"] == "exit"

    def all_answered_and_exited() -> bool:
        return all(i in sidecar.responses and exited(sidecar.responses[i]["result"]["pid"]) for i in ids)

    sidecar.wait_for(all_answered_and_exited, timeout, "every spawn answer and every exit")
    answered: set[int] = set()
    for message in list(sidecar.received):
        if "id" in message:
            answered.add(message["result"]["pid"])
        else:
            assert message["params"]["pid"] in answered, "a notification came before its spawn response"
    return answered


TREE = "sleep 300 & a=$!; sleep 300 & echo $$ $a $! > {pidfile}; wait"
"""A shell with two background children, writing the three pids to {pidfile}: a tree to stop."""


def start_trees(sidecar: Any, tmp_path: Path, count: int) -> list[int]:
    """Spawn `count` TREEs through `sidecar` (anything with spawn(program, *args)); all their pids."""
    pids = []
    for n in range(count):
        pidfile = tmp_path / f"tree{n}"
        sidecar.spawn("sh", "-c", TREE.format(pidfile=pidfile))
        pids += read_pidfile(pidfile)
    return pids


def read_pidfile(path: Path, timeout: float = 10.0) -> list[int]:
    """The pids in `path`, once a whole line of them is there."""

    def written() -> str:
        text = path.read_text() if path.exists() else ""
        return text if text.endswith("\n") else ""

    return [int(x) for x in eventually(written, timeout, f"{path} to be written").split()]


def descendant_named(pid: int, name: str) -> psutil.Process | None:
    """A process called `name` below `pid`, if one runs now."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for process in descendants:
        try:
            if process.name() == name:
                return process
        except psutil.Error:
            continue
    return None


