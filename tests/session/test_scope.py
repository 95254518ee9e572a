"""--scope: an allow-list fixed at launch; nothing outside it starts, and the wire cannot widen it."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from sidecar_client import REPO, Sidecar


def scoped(tmp_path, toml: str) -> Sidecar:
    path = tmp_path / "scope.toml"
    path.write_text(textwrap.dedent(toml))
    return Sidecar("--scope", str(path))


@pytest.fixture
def printer(tmp_path):
    """A program that prints its argv, cwd and a few variables, as JSON."""
    script = tmp_path / "bin" / "printer"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(),\n"
        "                  'env': {k: os.environ.get(k) for k in ['LANG', 'LD_PRELOAD', 'FORCED', 'PATH']}}))\n"
    )
    script.chmod(0o755)
    return script


def test_initialize_reports_whether_a_scope_is_active_but_not_its_rules(tmp_path):
    sidecar = scoped(tmp_path, '[[allow]]\nprogram = "echo"\nargs = "any"\n')
    try:
        capabilities = sidecar.request("initialize")["capabilities"]
        assert capabilities["scope"] is True
        assert "echo" not in json.dumps(capabilities)
    finally:
        sidecar.kill()
    plain = Sidecar()
    try:
        assert plain.request("initialize")["capabilities"]["scope"] is False
        assert plain.close() == 0
        assert any("no --scope" in line for line in plain.stderr_lines), "a warning must say everything is allowed"
    finally:
        plain.kill()


def test_programs_outside_the_scope_are_refused_and_nothing_starts(tmp_path):
    sidecar = scoped(tmp_path, '[[allow]]\nname = "echo"\nprogram = "echo"\nargs = "any"\n')
    try:
        assert sidecar.request("execute", {"program": "echo", "args": ["a", "b"]})["stdout"] == "a b\n"
        marker = tmp_path / "ran"
        error = sidecar.error("spawn", {"program": "touch", "args": [str(marker)]})
        assert error.code == -32009 and error.data == {"program": "touch", "rule": None, "part": "program"}
        assert "touch" in error.message
        error = sidecar.error("execute", {"program": "/bin/touch", "args": [str(marker)]})
        assert error.code == -32009
        assert not marker.exists()
    finally:
        sidecar.kill()


def test_fixed_arguments_must_match_and_are_never_replaced(tmp_path, printer):
    sidecar = scoped(tmp_path, f'[[allow]]\nname = "status"\nprogram = "{printer}"\nargs = ["status", "--short"]\n')
    try:
        result = sidecar.request("execute", {"program": str(printer), "args": ["status", "--short"]})
        assert json.loads(result["stdout"])["argv"] == ["status", "--short"]
        error = sidecar.error("execute", {"program": str(printer), "args": ["status", "--long"]})
        assert error.code == -32009
        assert error.data["part"] == "args" and error.data["index"] == 1 and error.data["received"] == "--long"
        assert error.data["rule"] == "status" and "'status'" in error.message
    finally:
        sidecar.kill()


def test_extra_or_missing_arguments_are_refused_not_dropped(tmp_path, printer):
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "{printer}"\nargs = ["status"]\n')
    try:
        for args in (["status", "--force"], []):
            error = sidecar.error("execute", {"program": str(printer), "args": args})
            assert error.code == -32009 and error.data["part"] == "args"
            assert error.data["expected"] == 1 and error.data["received"] == len(args)
    finally:
        sidecar.kill()


def test_validators_are_anchored_to_the_whole_argument(tmp_path, printer):
    toml = f'[[allow]]\nprogram = "{printer}"\nargs = ["log", {{ validator = "-n[0-9]{{1,3}}" }}]\n'
    sidecar = scoped(tmp_path, toml)
    try:
        assert sidecar.request("execute", {"program": str(printer), "args": ["log", "-n20"]})["code"] == 0
        for bad in ["-n20; rm -rf /", "x-n20", "-n1234", "-n"]:
            error = sidecar.error("execute", {"program": str(printer), "args": ["log", bad]})
            assert error.code == -32009 and error.data["index"] == 1, bad
    finally:
        sidecar.kill()


def test_a_command_string_with_shell_metacharacters_is_split_and_refused(tmp_path, printer):
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "{printer}"\nargs = ["status"]\n')
    try:
        for command in [f"{printer} status; touch {tmp_path}/pwned", f"{printer} status && id", f"{printer} $(id)"]:
            error = sidecar.error("execute", {"command": command})
            assert error.code == -32009 and error.data["part"] == "args", command
        assert not (tmp_path / "pwned").exists()
        ok = sidecar.request("execute", {"command": f"'{printer}' status"})
        assert json.loads(ok["stdout"])["argv"] == ["status"]
    finally:
        sidecar.kill()


def test_cwd_must_stay_inside_the_roots_through_dotdot_and_symlinks(tmp_path, printer):
    root = tmp_path / "projects"
    (root / "app").mkdir(parents=True)
    outside = tmp_path / "secrets"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    sidecar = scoped(tmp_path, f'[[allow]]\nprogram = "{printer}"\nargs = "any"\ncwd = ["{root}"]\n')
    try:
        result = sidecar.request("execute", {"program": str(printer), "cwd": str(root / "app")})
        assert json.loads(result["stdout"])["cwd"] == str(root / "app")
        for cwd in [str(root / "app" / ".." / ".." / "secrets"), str(root / "escape"), str(tmp_path)]:
            error = sidecar.error("execute", {"program": str(printer), "cwd": cwd})
            assert error.code == -32009 and error.data["part"] == "cwd", cwd
        # No cwd means the sidecar's own (the repository), which is outside the root too.
        assert sidecar.error("execute", {"program": str(printer)}).data["part"] == "cwd"
    finally:
        sidecar.kill()


def test_env_names_are_allow_listed_and_forced_env_wins(tmp_path, printer):
    toml = f'[[allow]]\nprogram = "{printer}"\nargs = "any"\nenv = ["LANG"]\nforceEnv = {{ FORCED = "yes" }}\n'
    sidecar = scoped(tmp_path, toml)
    try:
        error = sidecar.error("execute", {"program": str(printer), "env": {"LANG": "C", "FORCED": "no"}})
        assert error.code == -32009 and error.data["names"] == ["FORCED"], "forced names are not the caller's"
        env = json.loads(sidecar.request("execute", {"program": str(printer), "env": {"LANG": "C"}})["stdout"])["env"]
        assert env["LANG"] == "C" and env["FORCED"] == "yes"
        env = json.loads(sidecar.request("execute", {"program": str(printer), "clearEnv": True})["stdout"])["env"]
        assert env["FORCED"] == "yes" and env["PATH"] is None
        error = sidecar.error("execute", {"program": str(printer), "env": {"LD_PRELOAD": "/tmp/evil.so"}})
        assert error.code == -32009 and error.data["part"] == "env" and error.data["names"] == ["LD_PRELOAD"]
    finally:
        sidecar.kill()


def test_a_look_alike_earlier_on_path_never_runs(tmp_path, printer):
    """The rule names a program by name; the scope resolved it when it loaded. A request that puts a
    same-named program earlier on PATH (where PATH may be set) still runs the resolved one."""
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "printer").write_text(f"#!/bin/sh\ntouch {tmp_path}/pwned\n")
    (evil / "printer").chmod(0o755)
    env = dict(os.environ, PATH=f"{printer.parent}:{os.environ['PATH']}")
    path = tmp_path / "scope.toml"
    path.write_text('[[allow]]\nprogram = "printer"\nargs = "any"\nenv = ["PATH"]\n')
    sidecar = Sidecar("--scope", str(path), env=env)
    try:
        result = sidecar.request("execute", {"program": "printer", "args": ["hi"], "env": {"PATH": f"{evil}:/usr/bin:/bin"}})
        assert json.loads(result["stdout"])["argv"] == ["hi"]
        assert not (tmp_path / "pwned").exists()
        error = sidecar.error("execute", {"program": str(evil / "printer")})
        assert error.code == -32009 and error.data["part"] == "program"
    finally:
        sidecar.kill()


def test_write_and_kill_only_reach_the_sidecars_own_children(tmp_path):
    sidecar = scoped(tmp_path, '[[allow]]\nprogram = "cat"\n')
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        assert sidecar.error("kill", {"pid": bystander.pid, "signal": "SIGKILL"}).code == -32003
        assert sidecar.error("write", {"pid": bystander.pid, "data": "x"}).code == -32003
        assert bystander.poll() is None
    finally:
        bystander.kill()
        sidecar.kill()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not [ toml", "not valid TOML"),
        ('[[deny]]\nprogram = "x"\n', "exactly one key"),
        ('[[allow]]\nargs = "any"\n', "program"),
        ('[[allow]]\nprogram = "echo"\nargs = [1]\n', "args[0]"),
        ('[[allow]]\nprogram = "echo"\nargs = [{ validator = "(" }]\n', "regex"),
        ('[[allow]]\nprogram = "echo"\ncwd = ["/dev/null"]\n', "not a directory"),  # a missing root is a warning
        ('[[allow]]\nprogram = "echo"\nshell = true\n', "unknown keys"),
    ],
)
def test_a_malformed_scope_stops_the_sidecar_at_start_with_status_2(tmp_path, content, words):
    path = tmp_path / "scope.toml"
    path.write_text(content)
    run = subprocess.run([sys.executable, "-m", "sidecar", "--scope", str(path)], cwd=REPO, input=b"",
                         capture_output=True, timeout=30)
    assert run.returncode == 2
    message = run.stderr.decode()
    assert words in message and message.startswith("process-sidecar: error:"), message
    assert run.stdout == b""


def test_a_json_scope_works_too(tmp_path):
    path = tmp_path / "scope.json"
    path.write_text(json.dumps({"allow": [{"program": "echo", "args": [{"validator": "[a-z]+"}]}]}))
    sidecar = Sidecar("--scope", str(path))
    try:
        assert sidecar.request("execute", {"program": "echo", "args": ["ok"]})["stdout"] == "ok\n"
        assert sidecar.error("execute", {"program": "echo", "args": ["NO"]}).code == -32009
    finally:
        sidecar.kill()


def test_no_scope_runs_anything_without_the_warning_and_excludes_a_scope(tmp_path):
    sidecar = Sidecar("--no-scope")
    try:
        assert sidecar.request("initialize")["capabilities"]["scope"] is False
        assert sidecar.request("execute", {"program": "echo", "args": ["any"]})["stdout"] == "any\n"
        assert sidecar.close() == 0
        assert not any("no --scope" in line for line in sidecar.all_stderr())
    finally:
        sidecar.kill()
    scope = tmp_path / "scope.toml"
    scope.write_text('[[allow]]\nprogram = "echo"\nargs = "any"\n')
    both = subprocess.run([sys.executable, "-m", "sidecar", "--no-scope", "--scope", str(scope)], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert both.returncode == 2
    assert "not allowed with" in both.stderr
