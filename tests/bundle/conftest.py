import subprocess
import sys
import zipfile

import pytest

from sidecar_client import REPO


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The wheel `pip wheel` builds from this checkout, once for every test that looks at it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check", "-w", str(out), str(REPO)],
        check=True, timeout=300, capture_output=True,
    )
    [built] = out.glob("process_sidecar-*.whl")
    return built


@pytest.fixture(scope="session")
def unpacked(wheel, tmp_path_factory):
    """The wheel's files, as an installer would put them in site-packages."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site
