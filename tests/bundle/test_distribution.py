"""What a user gets from the packages: the licence, the typing marker, the metadata, and one version
everywhere (the Python package, the npm package, `initialize`, `--version`). The npm side of the package
contents is checked by ts-client/test/package.test.ts, on what `npm pack` makes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest

from sidecar import __version__
from sidecar_client import REPO, Sidecar

pytestmark = pytest.mark.timeout(300)


def _metadata(wheel) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode())
    return {"version": message["Version"], "license": message["License-Expression"],
            "license_files": message.get_all("License-File"), "classifiers": message.get_all("Classifier"),
            "requires_python": message["Requires-Python"]}


def test_the_wheel_holds_the_licence_the_typing_marker_and_the_protocol(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [licence] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(licence) == (REPO / "LICENSE").read_bytes()
        assert "sidecar/py.typed" in names
        assert "sidecar/protocol/PROTOCOL.md" in names
        assert "sidecar/protocol/methods.json" in names
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_the_wheel_says_what_it_runs_on(wheel):
    metadata = _metadata(wheel)
    assert metadata["license"] == "MIT"
    assert metadata["license_files"] == ["LICENSE"]
    assert metadata["requires_python"] == ">=3.11"
    classifiers = set(metadata["classifiers"])
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert {"Operating System :: POSIX :: Linux", "Operating System :: MacOS", "Typing :: Typed"} <= classifiers


def test_one_version_for_the_python_package_the_npm_package_and_the_protocol(wheel):
    package_json = json.loads((REPO / "ts-client" / "package.json").read_text())
    assert package_json["version"] == __version__
    assert _metadata(wheel)["version"] == __version__
    session = Sidecar()
    try:
        assert session.request("initialize")["serverInfo"]["version"] == __version__
    finally:
        session.kill()
    printed = subprocess.run([sys.executable, "-m", "sidecar", "--version"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert printed.stdout.strip() == f"process-sidecar {__version__}"


def test_the_changelog_has_a_section_for_this_version():
    changelog = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", changelog, flags=re.MULTILINE)
    assert __version__ in headings, f"CHANGELOG.md has no section {__version__}: {headings}"
    assert headings[0] in ("Unreleased", __version__), "the newest section comes first"


def test_help_names_a_protocol_document_the_installed_copy_has(unpacked, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import sidecar.cli; sidecar.cli.main(['--help'])",
         str(unpacked)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    match = re.search(r"^The protocol: (.+PROTOCOL\.md)$", run.stdout, flags=re.MULTILINE)
    assert match, run.stdout
    named = match.group(1)
    assert named == str(unpacked / "sidecar" / "protocol" / "PROTOCOL.md"), named
