"""The bundled binary (python -m sidecar.bundle), driven over real pipes like any host would.

The binaries are built once per layout into build/test-bundle/ and kept there: a run whose inputs (the
package, protocol/, the installed distributions, PyInstaller's arguments) have not changed reuses them.
A fresh build takes about 10 s per layout on two cores. Deselect with `-m "not bundle"`.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sidecar import __version__
from sidecar.bundle.build import build, platform_triple, rustc_triple, target_triple
from sidecar_client import REPO, TREE, Sidecar, eventually, read_pidfile, start_trees, wait_gone

pytestmark = [pytest.mark.bundle, pytest.mark.timeout(300)]

CACHE = REPO / "build" / "test-bundle"


@pytest.fixture(scope="module", params=["onefile", "onedir"])
def binary(request) -> Path:
    onefile = request.param == "onefile"
    return build(CACHE / "dist", onefile=onefile, work=CACHE / request.param, reuse=True)


@pytest.fixture(scope="module")
def onefile_binary() -> Path:
    return build(CACHE / "dist", onefile=True, work=CACHE / "onefile", reuse=True)


class BundledSidecar(Sidecar):
    """The binary, driven by the tests' one client (sidecar_client.Sidecar), plus what only a binary has.

    Its TMPDIR is a folder of the test's own, so that what a onefile bootloader unpacks can be seen.
    """

    def __init__(
        self, binary: Path, tmp: Path, env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
    ) -> None:
        tmp.mkdir(exist_ok=True)
        self.tmp = tmp
        env = {**(os.environ if env is None else env), "TMPDIR": str(tmp)}
        super().__init__(command=[str(binary)], env=env, pass_fds=pass_fds)

    def tree(self) -> list[int]:
        """The binary's own processes (a onefile bootloader has the Python process as its child) and every
        process they started."""
        return [self.proc.pid] + [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]

    def unpacked(self) -> list[Path]:
        return sorted(self.tmp.glob("_MEI*"))


@pytest.fixture
def start(tmp_path):
    started: list[BundledSidecar] = []

    def start(binary: Path, env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()) -> BundledSidecar:
        sidecar = BundledSidecar(binary, tmp_path / f"tmp{len(started)}", env, pass_fds)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        if sidecar.proc.poll() is None:
            for pid in sidecar.tree():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            sidecar.proc.wait(10)
        if not sidecar.proc.stdin.closed:
            sidecar.proc.stdin.close()


def test_the_binary_is_named_for_tauri_externalbin(onefile_binary):
    triple = target_triple()
    assert onefile_binary.name == f"process-sidecar-{triple}"
    host = rustc_triple()
    if host is not None:  # rustc is installed here: its triple wins, and the fallback must agree with it
        assert triple == host
        assert platform_triple() == host
    assert os.access(onefile_binary, os.X_OK)
    done = subprocess.run([onefile_binary, "--version"], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout.strip()) == (0, f"process-sidecar {__version__}")


def test_the_binary_runs_the_sidecars_runtime_hook_for_inspect_not_pyinstallers(binary):
    """PyInstaller's imports zipfile, pathlib and shutil before the sidecar's first line (build.py, hooks/)."""
    from PyInstaller.archive.readers import CArchiveReader

    hooks = sorted(name for name in CArchiveReader(str(binary)).toc if name.startswith("pyi_rth_"))
    assert hooks == ["pyi_rth_sidecar_inspect"]


def test_protocol_smoke_test(binary, start, tmp_path):
    sidecar = start(binary)
    info = sidecar.request("initialize", {"clientInfo": {"name": "test_bundle"}})
    assert info["serverInfo"] == {"name": "process-sidecar", "version": __version__, "executableDir": str(binary.parent)}
    assert info["protocolVersion"] == "1"  # read from the protocol files bundled inside the binary

    result = sidecar.request("execute", {"command": "sh -c 'echo out; echo err >&2; exit 3'"})
    assert result == {"code": 3, "signal": None, "stdout": "out\n", "stderr": "err\n"}

    raw = sidecar.request("execute", {"program": "printf", "args": ["\\000\\377abc"], "encoding": "base64"})
    assert base64.b64decode(raw["stdout"]) == b"\x00\xffabc"

    cat = sidecar.spawn("cat")
    assert sidecar.request("write", {"pid": cat, "data": "hello\n"}) is None
    sidecar.wait_for(lambda: sidecar.output(cat) == "hello\n", what="cat's echo")
    assert sidecar.request("closeStdin", {"pid": cat}) is None
    assert sidecar.wait_exit(cat) == {"pid": cat, "code": 0, "signal": None}

    pidfile = tmp_path / "killed"
    leader = sidecar.spawn("sh", "-c", TREE.format(pidfile=pidfile))
    tree = read_pidfile(pidfile)
    assert sidecar.request("kill", {"pid": leader}) is None
    assert sidecar.wait_exit(leader)["signal"] == signal.SIGTERM
    assert wait_gone(tree) == []

    assert sidecar.error("spawn", {"program": "no-such-program-here"}).code == -32000

    children = start_trees(sidecar, tmp_path, 2)
    everything = sidecar.tree()
    assert set(children) <= set(everything)
    assert sidecar.close() == 0  # end of file on stdin: every child stopped, exit 0
    assert wait_gone(everything) == []
    assert sidecar.unpacked() == []


def test_the_raw_channel_works_frozen(binary, start):
    # raw-channel.json must ship inside the binary: the sidecar reads its frame layout from there.
    read_fd, write_fd = os.pipe()
    try:
        sidecar = start(binary, pass_fds=(write_fd,))
        os.close(write_fd)
        capabilities = sidecar.request("initialize", {"rawChannel": {"fd": write_fd}})["capabilities"]
        assert capabilities["rawChannel"] is True
        pid = sidecar.request("spawn", {"command": "sh -c 'printf out; printf err >&2'", "encoding": "raw"})["pid"]
        assert sidecar.wait_exit(pid)["code"] == 0
        assert sidecar.close() == 0
        with os.fdopen(read_fd, "rb") as channel:
            read_fd = -1
            frames = channel.read()  # to end of file: nothing left holds the write end
        expected = [(pid, 1, b"out"), (pid, 1, b""), (pid, 2, b"err"), (pid, 2, b"")]
        received = []
        while frames:
            header, frames = frames[:9], frames[9:]
            length = int.from_bytes(header[5:9], "big")
            received.append((int.from_bytes(header[:4], "big"), header[4], frames[:length]))
            frames = frames[length:]
        assert sorted(received) == sorted(expected)
    finally:
        if read_fd >= 0:
            os.close(read_fd)


def test_a_terminal_works_frozen(binary, start):
    # termios, the pty and the preexec hook that takes the terminal must all survive freezing.
    sidecar = start(binary)
    pid = sidecar.request("spawn", {"program": "sh", "pty": {"cols": 100, "rows": 30}, "env": {"PS1": "$ "}})["pid"]
    sidecar.wait_for(lambda: sidecar.output(pid).endswith("$ "), what="the prompt")
    sidecar.request("write", {"pid": pid, "data": "stty size; tty\r"})
    sidecar.wait_for(lambda: "30 100\r\n/dev/pts/" in sidecar.output(pid), what="the size and the terminal's name")
    sidecar.request("resize", {"pid": pid, "cols": 120, "rows": 40})
    sidecar.request("write", {"pid": pid, "data": "stty size\r"})
    sidecar.wait_for(lambda: "40 120\r\n" in sidecar.output(pid), what="the new size")
    sidecar.request("closeStdin", {"pid": pid})
    assert sidecar.wait_exit(pid) == {"pid": pid, "code": 0, "signal": None}
    assert sidecar.close() == 0


@pytest.mark.parametrize("host_value", [None, "/opt/host-libs"])
def test_children_get_the_hosts_environment_not_the_bundles(binary, start, host_value):
    # The bootloader points LD_LIBRARY_PATH at the bundled libraries and sets _PYI_* variables.
    env = {name: value for name, value in os.environ.items() if name != "LD_LIBRARY_PATH"}
    if host_value is not None:
        env["LD_LIBRARY_PATH"] = host_value
    sidecar = start(binary, env=env)
    seen = sidecar.request("execute", {"program": "env"})["stdout"]
    assert "_MEI" not in seen and "_PYI_" not in seen
    expected = [] if host_value is None else [f"LD_LIBRARY_PATH={host_value}"]
    assert [line for line in seen.splitlines() if line.startswith("LD_LIBRARY_PATH")] == expected
    assert sidecar.close() == 0


def test_sigterm_reaches_the_sidecar_and_stops_every_tree(binary, start, tmp_path):
    # A onefile bootloader forwards the signal to the Python process.
    sidecar = start(binary)
    children = start_trees(sidecar, tmp_path, 2)
    everything = sidecar.tree()
    sidecar.proc.send_signal(signal.SIGTERM)
    assert sidecar.proc.wait(10) == 0
    assert wait_gone(everything + children) == []
    assert sidecar.unpacked() == []


def test_sigkill_of_the_binary_leaves_nothing_behind(binary, start, tmp_path):
    # What tauri-plugin-shell's kill() does, and does to every child when the app exits. The host keeps
    # the sidecar's stdin open. onefile: the bootloader dies, and the Python process must learn of it by
    # itself; onedir: the sidecar itself dies, and its guardian stops the children.
    sidecar = start(binary)
    start_trees(sidecar, tmp_path, 2)  # the trees the guardian must stop
    everything = sidecar.tree()
    if binary.parent.name.endswith("-onedir"):
        assert sidecar.unpacked() == []
    else:
        python = [child.exe() for child in psutil.Process(sidecar.proc.pid).children()]
        assert python == [str(binary)], "onefile: a bootloader, and the Python process as its child"
        assert len(sidecar.unpacked()) == 1
    sidecar.proc.kill()
    sidecar.proc.wait(10)
    assert wait_gone(everything) == []
    # The unpacked directory must not outlive the bootloader.
    eventually(lambda: sidecar.unpacked() == [], 10, "the unpacked directory to be removed")


HOST = """
import subprocess, sys
sidecar = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
sidecar.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"spawn","params":{"program":"sh","args":["-c",'
                    + sys.argv[2].encode() + b']}}\\n')
sidecar.stdin.flush()
sidecar.stdout.readline()
print(sidecar.pid, flush=True)
sys.stdin.read()
"""


def test_a_crashed_host_leaves_nothing_behind(binary, tmp_path):
    # An app that crashes never calls dispose(): the kernel closes its end of the sidecar's stdin, and
    # end of file makes the sidecar stop every tree and exit.
    pidfile = tmp_path / "tree"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with subprocess.Popen(
        [sys.executable, "-c", HOST, str(binary), json.dumps(TREE.format(pidfile=pidfile))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "TMPDIR": str(tmp)},
    ) as host:
        try:
            sidecar_pid = int(host.stdout.readline())
            children = read_pidfile(pidfile)
            everything = [sidecar_pid] + [p.pid for p in psutil.Process(sidecar_pid).children(recursive=True)]
        finally:
            host.kill()
    try:
        assert wait_gone(everything + children) == []
        assert sorted(tmp.glob("_MEI*")) == []
    finally:
        for pid in everything + children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture(scope="module")
def scoped_binary(tmp_path_factory) -> Path:
    scope = tmp_path_factory.mktemp("scope") / "scope.toml"
    scope.write_text('[[allow]]\nname = "echo"\nprogram = "echo"\nargs = "any"\n')
    return build(CACHE / "scoped-dist", onefile=True, work=CACHE / "scoped", scope=scope, reuse=True)


def test_a_scope_baked_in_at_build_time_always_applies(scoped_binary, start):
    sidecar = start(scoped_binary)
    assert sidecar.request("initialize")["capabilities"]["scope"] is True
    assert sidecar.request("execute", {"program": "echo", "args": ["allowed"]})["stdout"] == "allowed\n"
    denied = sidecar.error("execute", {"program": "sh", "args": ["-c", "echo not allowed"]})
    assert denied.code == -32009  # ScopeDenied
    assert sidecar.close() == 0

    for attempt in (["--scope", os.devnull], ["--scope=" + os.devnull], ["--sco", os.devnull], ["--no-scope"],
                    ["--no-sc"]):
        done = subprocess.run([scoped_binary, *attempt], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 2, attempt
        assert "scope built in" in done.stderr
