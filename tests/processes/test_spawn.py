"""spawn: output streams back as notifications, then one exit, after every byte."""

import os
import sys
import time

from sidecar_client import python, spawned_before_output


def test_spawn_answers_with_pid_then_streams_output_then_exit(sidecar):
    request_id = sidecar.start_request("spawn", {"program": sys.executable, "args": ["-c", "print('hello')"]})
    first = sidecar.next_message()
    assert first["id"] == request_id and "pid" in first["result"], "the spawn response must come first"
    pid = first["result"]["pid"]
    assert sidecar.wait_exit(pid) == {"pid": pid, "code": 0, "signal": None}
    assert sidecar.output(pid) == "hello\n"
    assert sidecar.events(pid)[-1]["method"] == "exit"


def test_spawn_response_precedes_output_even_for_an_instant_writer(sidecar):
    # Many children that write at once: for each pid, nothing may arrive before its spawn response.
    ids = [sidecar.start_request("spawn", {"program": "echo", "args": [str(i)]}) for i in range(30)]
    assert len(spawned_before_output(sidecar, ids)) == 30


def test_exit_comes_once_and_last_after_megabytes_written_at_once(sidecar):
    size = 8 * 1024 * 1024
    code = f"import sys; sys.stdout.buffer.write(b'x' * {size}); sys.stderr.buffer.write(b'y' * 1000)"
    status, out, err = sidecar.run(*python(code))
    assert status["code"] == 0
    assert len(out) == size and set(out) == {"x"}
    assert err == "y" * 1000
    pid = status["pid"]
    exits = [n for n in sidecar.events(pid) if n["method"] == "exit"]
    assert len(exits) == 1
    chunks = [n for n in sidecar.events(pid) if n["method"] == "stdout"]
    assert max(len(c["params"]["data"]) for c in chunks) <= 64 * 1024
    assert len(chunks) <= size // (16 * 1024), "output should be coalesced into large notifications"


def test_exit_reports_code_and_signal(sidecar):
    status, _, _ = sidecar.run(*python("import sys; sys.exit(7)"))
    assert (status["code"], status["signal"]) == (7, None)
    status, _, _ = sidecar.run(*python("import os, signal; os.kill(os.getpid(), signal.SIGABRT)"))
    assert (status["code"], status["signal"]) == (None, 6)


def test_partial_line_is_delivered_promptly(sidecar):
    pid = sidecar.spawn(*python("import sys, time; sys.stdout.write('prompt> '); sys.stdout.flush(); time.sleep(30)"))
    sidecar.wait_for(lambda: sidecar.output(pid) == "prompt> ", timeout=5, what="the prompt")
    sidecar.request("kill", {"pid": pid, "signal": "SIGKILL"})
    assert sidecar.wait_exit(pid)["signal"] == 9


def test_utf8_is_never_split_and_invalid_bytes_become_replacement(sidecar):
    # Write a multi-byte character one byte at a time, with pauses so the reads really are split.
    code = (
        "import sys, time\n"
        "for b in 'é€😀'.encode():\n"
        "    sys.stdout.buffer.write(bytes([b])); sys.stdout.flush(); time.sleep(0.02)\n"
        "sys.stdout.buffer.write(b'a\\xffb\\xe2\\x82'); sys.stdout.flush()\n"
    )
    status, out, _ = sidecar.run(*python(code))
    assert status["code"] == 0
    # A character split across notifications would show up as extra U+FFFD.
    assert out == "é€😀a\ufffdb\ufffd"


def test_base64_output_is_byte_exact(sidecar):
    code = "import sys; sys.stdout.buffer.write(bytes(range(256)) * 1000)"
    pid = sidecar.spawn(*python(code), encoding="base64")
    sidecar.wait_exit(pid)
    assert sidecar.output_bytes(pid) == bytes(range(256)) * 1000


def test_env_merges_removes_and_clears(sidecar, monkeypatch):
    code = "import os, json; print(json.dumps({k: os.environ.get(k) for k in ['ADDED', 'HOME', 'PATH']}))"
    _, out, _ = sidecar.run(*python(code), env={"ADDED": "yes", "HOME": None})
    import json

    seen = json.loads(out)
    assert seen["ADDED"] == "yes" and seen["HOME"] is None and seen["PATH"] == os.environ["PATH"]
    _, out, _ = sidecar.run(*python(code), clearEnv=True, env={"ADDED": "only"})
    assert json.loads(out) == {"ADDED": "only", "HOME": None, "PATH": None}


def test_cwd(sidecar, tmp_path):
    _, out, _ = sidecar.run(*python("import os; print(os.getcwd())"), cwd=str(tmp_path))
    assert out.strip() == str(tmp_path)


def test_command_is_split_shell_style_and_never_run_by_a_shell(sidecar):
    pid = sidecar.request("spawn", {"command": f"{sys.executable} -c 'import sys; print(sys.argv[1:])' 'a b' '$HOME;ls' *"})["pid"]
    sidecar.wait_exit(pid)
    assert sidecar.output(pid) == "['a b', '$HOME;ls', '*']\n"


def test_stdin_null_reads_end_of_file(sidecar):
    status, out, _ = sidecar.run(*python("import sys; print(repr(sys.stdin.read()))"), stdin="null")
    assert out == "''\n"


def test_output_of_many_concurrent_children_is_complete(sidecar):
    code = "import sys\nfor i in range(2000): print(f'{sys.argv[1]}:{i}')"
    pids = [sidecar.spawn(*python(code), str(n)) for n in range(20)]
    for n, pid in enumerate(pids):
        sidecar.wait_exit(pid, timeout=30)
        assert sidecar.output(pid) == "".join(f"{n}:{i}\n" for i in range(2000))


def test_a_descendant_holding_stdout_keeps_exit_pending_until_it_is_done(sidecar):
    # The shell exits at once; its background child writes later through the inherited stdout.
    started = time.monotonic()
    status, out, _ = sidecar.run("sh", "-c", "(sleep 0.5; echo late) &")
    assert out == "late\n"
    assert time.monotonic() - started >= 0.45
    assert status["code"] == 0
