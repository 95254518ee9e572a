import pytest

from sidecar_client import Sidecar


@pytest.fixture
def sidecar():
    session = Sidecar()
    yield session
    session.kill()
