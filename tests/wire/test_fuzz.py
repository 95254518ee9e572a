"""Property: random and malformed lines never kill the sidecar, and every request with an id is answered."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar_client import Sidecar

METHOD_NAMES = ["initialize", "spawn", "execute", "write", "closeStdin", "kill", "shutdown-not", "$/cancelRequest",
                "nope", ""]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
# Params aimed at the methods' real fields, with wrong or odd values; programs that cannot run for long.
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "program": st.sampled_from(["true", "false", "no-such-program", "", "/", "echo"]) | JSON,
        "args": st.lists(st.text(max_size=8), max_size=3) | JSON,
        "command": st.sampled_from(["true", "echo 'a b'", "'unbalanced", "   "]) | JSON,
        "pid": st.integers(-5, 2**31) | JSON,
        "data": st.text(max_size=20) | JSON,
        "signal": st.sampled_from(["SIGTERM", "SIGKILL", "SIGNOPE", 0, 99]) | JSON,
        "encoding": st.sampled_from(["utf-8", "base64", "latin-1"]),
        "timeoutMs": st.integers(-1, 2000),
        "env": st.dictionaries(st.text(max_size=5), st.none() | st.text(max_size=5), max_size=2),
        "id": JSON,
    },
)
REQUEST = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0"]), "method": st.sampled_from(METHOD_NAMES)},
    optional={"id": st.integers(0, 2**31) | st.text(max_size=6) | st.none() | st.floats(allow_nan=False),
              "params": PARAMS | JSON},
)
LINE = (
    REQUEST.map(json.dumps)
    | st.lists(REQUEST, max_size=3).map(json.dumps)
    | JSON.map(json.dumps)
    | st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b and b.strip())
)


def _not_json(constant):
    raise ValueError(f"{constant} is not JSON")


def _answerable(message):
    """The ids the sidecar owes an answer to: requests whose id is a string or an integer."""
    items = message if isinstance(message, list) else [message]
    return [
        m["id"] for m in items
        if isinstance(m, dict) and isinstance(m.get("id"), (str, int)) and not isinstance(m.get("id"), bool)
        and m.get("jsonrpc") == "2.0" and isinstance(m.get("method"), str)
    ]


def test_random_lines_never_kill_the_sidecar_and_ids_are_answered():
    sidecar = Sidecar()
    probe = iter(range(10**9))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(lines=st.lists(LINE, min_size=1, max_size=5))
    def check(lines):
        owed = []
        for line in lines:
            data = line.encode() if isinstance(line, str) else line
            sidecar.send_line(data)
            try:
                # Strict JSON, as the sidecar reads it: Infinity and NaN are not JSON.
                owed += _answerable(json.loads(data, parse_constant=_not_json))
            except ValueError:
                pass
        probe_id = f"probe-{next(probe)}"
        sidecar.send({"jsonrpc": "2.0", "id": probe_id, "method": "initialize"})
        sidecar.wait_for(lambda: probe_id in sidecar.responses, timeout=20, what="the probe answer")
        for request_id in owed:
            # A duplicated id may be answered once per request; every one must be answered at least once.
            sidecar.wait_for(lambda: request_id in sidecar.responses, timeout=20, what=f"an answer to {request_id!r}")
        assert sidecar.proc.poll() is None

    try:
        check()
        assert sidecar.close() == 0
    finally:
        sidecar.kill()
