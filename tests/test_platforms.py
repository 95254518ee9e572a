"""The seam for other systems holds: the package type-checks for Linux and macOS, and for Windows mypy
reaches only the entry points' refusal; on Windows the command line refuses at once, in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sidecar_client import REPO

ENTRY_POINTS = ["sidecar/__main__.py", "sidecar/cli.py"]


@pytest.mark.parametrize(
    ("platform", "targets"),
    [("linux", ["-p", "sidecar"]), ("darwin", ["-p", "sidecar"]), ("win32", ENTRY_POINTS)],
)
def test_the_package_type_checks_for(platform: str, targets: list[str], tmp_path) -> None:
    # A cache of its own: an incremental run can miss what a cold one finds.
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", platform, "--cache-dir", str(tmp_path), *targets],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    if platform == "win32":
        # Only the refusal is reachable: mypy follows no import of the session, so it checked 2 files.
        assert "in 2 source files" in checked.stdout, checked.stdout


def test_on_windows_the_command_line_refuses_at_once_in_one_line() -> None:
    # What runs on Windows before anything POSIX is imported, with the platform made to say win32.
    code = "import sys; sys.platform = 'win32'; from sidecar.cli import main; sys.exit(main([]))"
    refused = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "Linux" in lines[0] and "macOS" in lines[0] and "Windows is not supported" in lines[0]
