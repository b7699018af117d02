import pytest


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Config and sessions in the test's own folder, never the user's."""
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("IPWTUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(scope="session")
def llama():
    """llama-cpp-python's own OpenAI-compatible server on loopback, serving the bundled model: started once
    for every test that needs a real server (tests/llama_server.py)."""
    from llama_server import llama_server_fixture

    yield from llama_server_fixture()
