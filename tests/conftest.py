import pytest


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Config and sessions in the test's own folder, never the user's."""
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("IPWTUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path
