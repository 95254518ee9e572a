"""The built wheel carries the protocol files and runs on its own, away from this checkout."""

import json
import subprocess
import sys
import zipfile

from sidecar_client import REPO


def test_the_wheel_holds_the_protocol_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "process-sidecar = sidecar.cli:main" in archive.read(entry_points).decode()
    protocol = {p.relative_to(REPO).as_posix() for p in (REPO / "protocol").rglob("*") if p.is_file()}
    assert {f"sidecar/{name}" for name in protocol} <= names


def test_the_unpacked_wheel_serves_from_its_own_protocol_copy(unpacked, tmp_path):
    request = {"jsonrpc": "2.0", "id": 1, "method": "execute", "params": {"program": "echo", "args": ["packaged"]}}
    run = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import sidecar.cli, sidecar.wire.protocol_files as p;"
         " assert p.protocol_dir().parent.parent == __import__('pathlib').Path(sys.argv[1]); sys.argv[1:] = []; sys.exit(sidecar.cli.main([]))",
         str(unpacked)],
        input=json.dumps(request).encode() + b"\n", capture_output=True, timeout=60, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert json.loads(run.stdout)["result"]["stdout"] == "packaged\n"
