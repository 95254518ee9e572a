"""Where the sidecar says it is (initialize's serverInfo.executableDir): the folder of the bundled binary, in
both layouts, although a onefile binary runs unpacked in a temporary directory; so a binary shipped beside
it (Tauri puts every externalBin file next to the app) is found and runs. And the binary's --help, which
has no PROTOCOL.md a user could open, names the document instead of a path.

The binaries are the ones tests/bundle/test_bundle.py builds into build/test-bundle/ (reused when unchanged).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.bundle.build import build
from sidecar_client import REPO, Sidecar

pytestmark = [pytest.mark.bundle, pytest.mark.timeout(300)]

CACHE = REPO / "build" / "test-bundle"


@pytest.fixture(scope="module", params=["onefile", "onedir"])
def installed(request, tmp_path_factory) -> Path:
    """The binary copied into an app's folder (its onedir folder with it), with a helper program beside it."""
    built = build(CACHE / "dist", onefile=request.param == "onefile", work=CACHE / request.param, reuse=True)
    app = tmp_path_factory.mktemp(f"app-{request.param}")
    if request.param == "onefile":
        binary = Path(shutil.copy2(built, app / built.name))
    else:
        folder = Path(shutil.copytree(built.parent, app / built.parent.name, symlinks=True))
        binary = folder / built.name
    helper = binary.parent / "helper"
    helper.write_text('#!/bin/sh\necho "helper beside the sidecar: $1"\n')
    helper.chmod(0o755)
    return binary


def test_python_m_sidecar_reports_its_pythons_directory(sidecar):
    info = sidecar.request("initialize")["serverInfo"]
    assert info["executableDir"] == os.path.dirname(os.path.abspath(sys.executable))


def test_the_bundled_binary_reports_its_own_folder_and_runs_what_lies_beside_it(installed, tmp_path):
    session = Sidecar(command=[str(installed)], env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        directory = session.request("initialize")["serverInfo"]["executableDir"]
        assert directory == str(installed.parent)
        result = session.request("execute", {"program": os.path.join(directory, "helper"), "args": ["yes"]})
        assert result["stdout"] == "helper beside the sidecar: yes\n"
    finally:
        session.kill()


def test_the_bundled_binarys_help_names_the_protocol_document_not_a_path_it_lacks(installed):
    run = subprocess.run([str(installed), "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "The protocol: PROTOCOL.md, in the Python package as sidecar/protocol/PROTOCOL.md" in run.stdout
