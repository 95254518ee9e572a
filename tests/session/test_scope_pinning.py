"""--scope (issue #14, items 1-3): the child starts in the very directory the scope checked and runs the very
file the scope loaded; a refusal names the rule that got furthest; the README's scope loads as written."""

import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from sidecar_client import REPO, Sidecar

SCOPE_DENIED = -32009
SPAWN_FAILED = -32000


def scoped(tmp_path, toml: str, **env: str) -> Sidecar:
    path = tmp_path / "scope.toml"
    path.write_text(textwrap.dedent(toml))
    return Sidecar("--scope", str(path), env={**os.environ, **env})


def finished(sidecar: Sidecar, params: dict) -> tuple[str | None, dict | None]:
    """Run `params` (pty: spawn and wait for the exit; else execute): (its output, None) or (None, the error)."""
    if "pty" not in params:
        response = sidecar.response(sidecar.start_request("execute", params))
        return (None, response["error"]) if "error" in response else (response["result"]["stdout"], None)
    response = sidecar.response(sidecar.start_request("spawn", params))
    if "error" in response:
        return None, response["error"]
    pid = response["result"]["pid"]
    sidecar.wait_exit(pid)
    return sidecar.output(pid).replace("\r\n", "\n"), None


# -- 1: the working directory that was checked is the one entered ----------------------------------------


@pytest.mark.parametrize("pty", [False, True], ids=["pipes", "pty"])
def test_a_symlink_flipped_during_the_start_never_puts_the_child_outside_the_roots(tmp_path, pty):
    """A symlink inside the root flips, as fast as a thread can, between a directory inside and one outside:
    every child that starts runs inside (some requests are refused, some run; both are fine)."""
    root = tmp_path / "root"
    inside = root / "inside"
    inside.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    link = root / "link"
    link.symlink_to(inside)
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "/bin/pwd"\nargs = ["-P"]\ncwd = ["{root}"]\n')
    stop = threading.Event()

    def flip() -> None:
        spare = root / "spare"
        for target in itertools.cycle([outside, inside]):
            if stop.is_set():
                return
            spare.symlink_to(target)
            os.replace(spare, link)  # atomic: the link always exists, pointing one way or the other

    flipper = threading.Thread(target=flip, daemon=True)
    params = {"program": "/bin/pwd", "args": ["-P"], "cwd": str(link),
              **({"pty": {"cols": 200, "rows": 24}} if pty else {})}
    escaped, ran, refused = [], 0, 0
    try:
        flipper.start()
        for _ in range(120 if pty else 400):
            output, error = finished(sidecar, params)
            if error is not None:
                assert error["code"] == SCOPE_DENIED and error["data"]["part"] == "cwd", error
                assert error["data"]["received"] == str(outside), error  # the real directory, as checked
                refused += 1
            else:
                ran += 1
                if output.strip() != str(inside):
                    escaped.append(output.strip())
    finally:
        stop.set()
        flipper.join(5)
        sidecar.kill()
    assert not escaped, f"{len(escaped)} of {ran} children ran outside the root: {sorted(set(escaped))}"
    assert ran, "no child started at all"


def test_a_pinned_working_directory_keeps_its_errors_and_its_listing(tmp_path):
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_path)
    sidecar = scoped(tmp_path, f'''\
        [[allow]]
        program = "/bin/pwd"
        args = "any"
        cwd = ["{root}"]
        [[allow]]
        program = "/bin/cat"
        cwd = ["{root}"]
        ''')
    try:
        missing = str(root / "missing")
        error = sidecar.error("execute", {"program": "/bin/pwd", "cwd": missing})
        assert error.code == SPAWN_FAILED and error.data["path"] == missing and error.data["code"] == "ENOENT"
        assert "working directory" in error.message and missing in error.message
        error = sidecar.error("execute", {"program": "/bin/pwd", "cwd": str(tmp_path / "missing")})
        assert error.code == SCOPE_DENIED and error.data["part"] == "cwd"  # nothing said about what is outside
        error = sidecar.error("execute", {"program": "/bin/pwd", "cwd": str(root / "escape")})
        assert error.code == SCOPE_DENIED and error.data["received"] == str(tmp_path)
        assert sidecar.request("execute", {"program": "/bin/pwd", "args": ["-P"], "cwd": str(root / "app")})[
            "stdout"] == f"{root / 'app'}\n"
        # A spawned child is listed in the directory asked for, never the descriptor it was started through.
        pid = sidecar.spawn("/bin/cat", cwd=str(root / "app"))
        listed = [child for child in sidecar.request("list")["children"] if child["pid"] == pid]
        assert [child["cwd"] for child in listed] == [str(root / "app")]
        assert os.readlink(f"/proc/{pid}/cwd") == str(root / "app")
        sidecar.request("closeStdin", {"pid": pid})
        sidecar.wait_exit(pid)
        # Nothing is left open: the descriptors of the sidecar are as many as before these starts.
        before = len(os.listdir(f"/proc/{sidecar.proc.pid}/fd"))
        for _ in range(20):
            sidecar.request("execute", {"program": "/bin/pwd", "cwd": str(root / "app")})
            sidecar.error("execute", {"program": "/bin/pwd", "cwd": str(root / "escape")})
        assert len(os.listdir(f"/proc/{sidecar.proc.pid}/fd")) == before
    finally:
        sidecar.kill()


# -- 2: the file the scope loaded is the one that runs ----------------------------------------------------


def test_where_the_held_file_cannot_be_executed_a_replaced_file_is_refused(tmp_path):
    """The fallback on systems without /proc/self/fd (simulated: the held file's exec_path taken away): right
    before the start, the file at the path must still be the one loaded, else ScopeDenied."""
    from sidecar.processes.launch import launch_spec
    from sidecar.session.scope import Scope
    from sidecar.wire.errors import SidecarError

    program = tmp_path / "tool"
    shutil.copy("/bin/echo", program)
    impostor = tmp_path / "impostor"
    shutil.copy("/bin/echo", impostor)
    (tmp_path / "scope.toml").write_text(f'[[allow]]\nname = "tool"\nprogram = "{program}"\nargs = "any"\n')
    scope = Scope.load(str(tmp_path / "scope.toml"))
    spec = scope.authorize(launch_spec({"program": str(program), "args": ["held"]}, stdin_pipe=False))
    assert spec.pinned_program is not None
    held = spec.pinned_program.file
    exec_path, held.exec_path = held.exec_path, None
    try:
        assert spec.executable() == (None, ())  # the same file: run by its path
        os.rename(impostor, program)
        with pytest.raises(SidecarError) as refused:
            spec.executable()
        assert refused.value.name == "ScopeDenied" and refused.value.data["part"] == "program"
        assert refused.value.data["rule"] == "tool" and str(program) in refused.value.message
        held.exec_path = exec_path
        if exec_path is not None:  # Linux: the held file runs, whatever is at the path
            executable, keep = spec.executable()
            assert executable == f"/proc/self/fd/{keep[0]}"
            ran = subprocess.run([spec.program, "held"], executable=executable, pass_fds=keep, capture_output=True)
            assert ran.stdout == b"held\n"
    finally:
        spec.release()


@pytest.mark.parametrize("how", ["execute", "pty"])
@pytest.mark.parametrize("kind", ["binary", "script"])
def test_a_file_renamed_over_the_program_never_runs(tmp_path, kind, how):
    program = tmp_path / "bin" / "tool"
    program.parent.mkdir()
    if kind == "binary":
        shutil.copy("/bin/echo", program)
    else:
        program.write_text('#!/bin/sh\necho "$@"\n')
        program.chmod(0o755)
    impostor = tmp_path / "bin" / "impostor"
    impostor.write_text(f"#!/bin/sh\necho impostor\ntouch {tmp_path}/pwned\n")
    impostor.chmod(0o755)
    sidecar = scoped(tmp_path, f'[[allow]]\nname = "tool"\nprogram = "{program}"\nargs = "any"\n')
    params = {"program": str(program), "args": ["original"],
              **({"pty": {"cols": 80, "rows": 24}} if how == "pty" else {})}
    try:
        assert finished(sidecar, params) == ("original\n", None)
        os.rename(impostor, program)
        for _ in range(3):
            output, error = finished(sidecar, params)
            if error is None:
                assert output == "original\n"
            else:
                assert error["code"] == SCOPE_DENIED and error["data"]["part"] == "program", error
                assert error["data"]["rule"] == "tool" and str(program) in error["message"], error
        assert not (tmp_path / "pwned").exists(), "the impostor ran"
    finally:
        sidecar.kill()


def test_a_pinned_script_still_reads_its_arguments_and_input(tmp_path):
    """A script run through its descriptor gets its arguments, stdin and environment as before."""
    script = tmp_path / "echo-all"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      "print(json.dumps({'argv': sys.argv[1:], 'in': sys.stdin.read(), 'x': os.environ.get('X'),\n"
                      "                  'real': os.path.realpath(sys.argv[0])}))\n")
    script.chmod(0o755)
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "{script}"\nargs = "any"\nenv = ["X"]\n')
    try:
        pid = sidecar.spawn(str(script), "a b", "c", env={"X": "1"})
        sidecar.request("write", {"pid": pid, "data": "input"})
        sidecar.request("closeStdin", {"pid": pid})
        sidecar.wait_exit(pid)
        assert json.loads(sidecar.output(pid)) == {"argv": ["a b", "c"], "in": "input", "x": "1", "real": str(script)}
    finally:
        sidecar.kill()


# -- 3: the rule that got furthest; the README's scope -----------------------------------------------------


def readme_scope() -> str:
    """The scope.toml of the README, literally."""
    block = re.search(r"```toml\n(# scope\.toml\n.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block is not None, "the README has no ```toml block starting with '# scope.toml'"
    return block.group(1)


@pytest.mark.parametrize("projects", [False, True], ids=["no-projects", "projects"])
def test_the_readmes_scope_loads_as_written_and_names_the_rule_that_failed(tmp_path, projects):
    home = tmp_path / "home"
    home.mkdir()
    if projects:
        (home / "projects" / "app").mkdir(parents=True)
    sidecar = scoped(tmp_path, readme_scope(), HOME=str(home))
    try:
        assert sidecar.request("initialize")["capabilities"]["scope"] is True
        if shutil.which("git") is None:
            pytest.skip("git is not installed: the README's rules name it")
        # git-status takes 2 arguments, git-log 3 and a cwd: git-log's cwd is what refused this.
        error = sidecar.error("execute", {"command": "git log -n3 --oneline", "cwd": str(tmp_path)})
        assert error.code == SCOPE_DENIED and error.data["rule"] == "git-log" and error.data["part"] == "cwd", error
        assert "'git-log'" in error.message
        error = sidecar.error("execute", {"command": "git log -n3 --graph", "cwd": str(tmp_path)})
        assert error.data["rule"] == "git-log" and error.data["part"] == "args" and error.data["index"] == 2
        error = sidecar.error("execute", {"command": "git status", "cwd": str(tmp_path)})
        assert error.data["rule"] == "git-status" and error.data["part"] == "args"  # a tie: the first rule
        inside = str(home / "projects" / "app")
        if projects:
            assert "code" in sidecar.request("execute", {"command": "git log -n3 --oneline", "cwd": inside})
        else:
            error = sidecar.error("execute", {"command": "git log -n3 --oneline", "cwd": inside})
            assert error.code == SPAWN_FAILED and error.data["path"] == inside
            # Created later as a symlink to elsewhere, the root does not widen: it was fixed at load.
            (home / "projects").symlink_to(tmp_path)
            error = sidecar.error("execute", {"command": "git log -n3 --oneline", "cwd": str(home / "projects")})
            assert error.code == SCOPE_DENIED and error.data["part"] == "cwd"
        sidecar.close()
        warned = [line for line in sidecar.all_stderr() if "~/projects" in line]
        assert bool(warned) == (not projects), sidecar.stderr_lines
        assert not projects or not warned
    finally:
        sidecar.kill()


def test_the_refusal_comes_from_the_rule_that_got_furthest(tmp_path):
    """Stages: program found, argument count, argument values, cwd, env; the latest wins, ties the first."""
    root = tmp_path / "root"
    root.mkdir()
    missing = "process-sidecar-no-such-program"
    sidecar = scoped(tmp_path, f"""\
        [[allow]]
        name = "count"
        program = "/bin/echo"
        args = ["a"]

        [[allow]]
        name = "value"
        program = "/bin/echo"
        args = ["a", "b"]

        [[allow]]
        name = "env"
        program = "/bin/echo"
        args = ["a", {{ validator = "[a-z]" }}]

        [[allow]]
        name = "cwd"
        program = "/bin/echo"
        args = ["a", "C"]
        cwd = ["{root}"]

        [[allow]]
        name = "gone"
        program = "{missing}"
        [[allow]]
        name = "gone-too"
        program = "{missing}"
        """)
    try:
        def refusal(args, **params):
            error = sidecar.error("execute", {"program": "/bin/echo", "args": args, **params})
            assert error.code == SCOPE_DENIED
            return error.data["rule"], error.data["part"]

        assert refusal(["a", "b", "c"]) == ("count", "args")  # every rule stops at the count: the first
        assert refusal(["a", "B"]) == ("value", "args")  # count passes for value, env and cwd; values fail
        assert refusal(["a", "C"], cwd=str(tmp_path)) == ("cwd", "cwd")
        assert refusal(["a", "C"], cwd=str(root), env={"HOME": "/"}) == ("cwd", "env")
        assert refusal(["a", "d"], env={"HOME": "/"}) == ("env", "env")
        error = sidecar.error("execute", {"program": missing})
        assert error.data["rule"] == "gone" and error.data["part"] == "program"
    finally:
        sidecar.kill()


def test_a_root_that_is_a_file_still_stops_the_sidecar(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "echo"\ncwd = ["{afile}"]\n')
    try:
        assert sidecar.proc.wait(30) == 2
        assert any("not a directory" in line for line in sidecar.all_stderr())
    finally:
        sidecar.kill()


def test_an_execute_only_program_still_runs(tmp_path):
    program = tmp_path / "tool"
    shutil.copy("/bin/echo", program)
    program.chmod(stat.S_IXUSR)  # --x------: the scope can hold it without reading it
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "{program}"\nargs = "any"\n')
    try:
        assert sidecar.request("execute", {"program": str(program), "args": ["x"]})["stdout"] == "x\n"
    finally:
        sidecar.kill()
