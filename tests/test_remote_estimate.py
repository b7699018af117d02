"""Estimated server energy: the cited table as data, cited figures applied per token or per query, EcoLogits."""

import json
import math
from importlib import resources

import pytest

from ipwtui.core.remote import (
    SERVER,
    SERVER_ACCELERATOR,
    SERVER_DATACENTRE,
    UNSTATED,
    RemoteWindow,
)
from ipwtui.core.remote import estimate as est
from ipwtui.core.remote.estimate import (
    CitedEstimate,
    EcoLogitsEstimate,
    EstimateError,
    load_cited_table,
    make_source,
    resolve_provider,
)

VOCABULARY = {SERVER_ACCELERATOR, SERVER, SERVER_DATACENTRE, UNSTATED}
TABLE_2_8_IDS = {
    "gemini-apps-median", "chatgpt-avg", "gpt-4o-epoch", "gpt-4o-mini-epoch", "gpt-4.1-nano-jegham", "gpt-4o-jegham",
    "claude-3.7-sonnet-jegham", "reasoning-o3-jegham", "frontier-200b-oviedo", "frontier-tts-oviedo",
    "open-chat-b200-mlenergy", "open-reasoning-b200-mlenergy",
}


def raw_table() -> dict:
    """The packaged file read as plain JSON, not through the loader under test."""
    return json.loads((resources.files("ipwtui") / "data" / "cloud_energy.json").read_text(encoding="utf-8"))


def raw_entry(entry_id: str) -> dict:
    return next(e for e in raw_table()["entries"] if e["id"] == entry_id)


def window(out=500, prompt=100, seconds=10.0, model="gpt-4o") -> RemoteWindow:
    return RemoteWindow(query_id="q1", attempt=1, wall_start=1000.0, wall_end=1000.0 + seconds, model=model,
                        prompt_tokens=prompt, output_tokens=out)


# ---------------------------------------------------------------- the data file


def test_table_is_versioned_and_dated():
    data = raw_table()
    assert isinstance(data["version"], str) and data["version"]
    y, m, d = data["updated"].split("-")
    assert len(y) == 4 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31


def test_table_holds_the_reference_ids_once_each():
    ids = [e["id"] for e in raw_table()["entries"]]
    assert len(ids) == len(set(ids))
    assert TABLE_2_8_IDS <= set(ids)


@pytest.mark.parametrize("entry", raw_table()["entries"], ids=lambda e: e["id"])
def test_every_entry_is_well_formed(entry):
    assert entry["unit"] in ("Wh/query", "J/output-token")
    assert entry["per_token"] is (entry["unit"] == "J/output-token")
    v = entry["value"]
    assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0
    rng = entry.get("range")
    if rng is not None:
        assert 0 < rng["low"] <= v <= rng["high"]
        assert rng["what"].strip()
    assert entry["boundary"] in VOCABULARY
    src = entry["source"]
    assert src["title"].strip() and (src.get("authors") or src.get("organisation"))
    assert isinstance(src["year"], int) and 2020 <= src["year"] <= 2030
    assert src.get("url", "").startswith("https://") or src.get("arxiv")
    assert entry["method"].strip() and entry["what"].strip()


def test_entries_match_the_published_figures():
    # each per-token value re-derived here from the figure the source publishes
    assert raw_entry("gpt-4o-epoch")["value"] == pytest.approx(0.301 * 3600 / 500, rel=2e-3)
    assert raw_entry("gpt-4o-mini-epoch")["value"] == pytest.approx(0.06 * 3600 / 500, rel=2e-3)
    assert raw_entry("open-chat-b200-mlenergy")["value"] == pytest.approx(184 / 717, rel=2e-3)
    assert raw_entry("open-reasoning-b200-mlenergy")["value"] == pytest.approx(4625 / 3600, rel=1e-4)
    # Jegham et al.: output coefficient of Wh = a*in + b*out over the three published shapes
    shapes = [(100, 300), (1000, 1000), (10000, 1500)]
    published = {"gpt-4.1-nano-jegham": (0.10, 0.27, 0.45), "gpt-4o-jegham": (0.42, 1.21, 1.79),
                 "claude-3.7-sonnet-jegham": (0.84, 2.78, 5.52), "reasoning-o3-jegham": (7.03, 21.41, 39.22)}
    for entry_id, wh in published.items():
        sxx = sum(i * i for i, _ in shapes)
        syy = sum(o * o for _, o in shapes)
        sxy = sum(i * o for i, o in shapes)
        sxw = sum(i * w for (i, _), w in zip(shapes, wh))
        syw = sum(o * w for (_, o), w in zip(shapes, wh))
        b_wh_per_token = (sxx * syw - sxy * sxw) / (sxx * syy - sxy * sxy)
        assert raw_entry(entry_id)["value"] == pytest.approx(b_wh_per_token * 3600, rel=2e-3), entry_id
    assert raw_entry("frontier-200b-oviedo")["range"]["low"] == 0.16
    assert raw_entry("frontier-200b-oviedo")["range"]["high"] == 0.60
    assert raw_entry("gemini-apps-median")["value"] == 0.24


def test_loader_reads_what_the_file_says():
    t = load_cited_table()
    data = raw_table()
    assert t.version == data["version"] and t.updated == data["updated"]
    assert set(t.entries) == {e["id"] for e in data["entries"]}
    e = t.entries["frontier-200b-oviedo"]
    assert (e.value, e.low, e.high, e.per_token) == (0.31, 0.16, 0.60, False)


def _write_table(tmp_path, **changes):
    entry = dict(raw_entry("gpt-4o-epoch"))
    entry.update(changes)
    data = {"version": "t", "updated": "2026-01-01", "entries": [entry]}
    p = tmp_path / "cloud_energy.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


@pytest.mark.parametrize("changes, words", [
    ({"value": -1.0}, "value must be a finite number > 0"),
    ({"value": float("nan")}, "value must be a finite number > 0"),
    ({"value": float("inf")}, "value must be a finite number > 0"),
    ({"range": {"low": 3.0, "high": 9.0, "what": "x"}}, "range must hold the value"),
    ({"range": {"low": 1.0, "high": float("inf"), "what": "x"}}, "range needs finite low and high"),
    ({"boundary": "whole-world"}, "boundary must be one of"),
    ({"unit": "kWh"}, "unit must be one of"),
    ({"per_token": False}, "per_token must be true"),
    ({"source": {"title": "x"}}, "source needs"),
])
def test_loader_refuses_a_bad_entry_in_one_line(tmp_path, changes, words):
    p = _write_table(tmp_path, **changes)
    with pytest.raises(EstimateError) as e:
        load_cited_table(p)
    msg = str(e.value)
    assert words in msg and "\n" not in msg
    assert str(p) in msg and "entry 1 (gpt-4o-epoch)" in msg


def test_loader_names_the_line_of_broken_json(tmp_path):
    p = tmp_path / "cloud_energy.json"
    p.write_text('{\n  "version": "1",\n  "entries": [,]\n}\n', encoding="utf-8")
    with pytest.raises(EstimateError, match=r"line 3: not valid JSON"):
        load_cited_table(p)


def test_loader_refuses_duplicate_ids(tmp_path):
    entry = raw_entry("chatgpt-avg")
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"version": "1", "updated": "2026-01-01", "entries": [entry, entry]}), encoding="utf-8")
    with pytest.raises(EstimateError, match="duplicate id 'chatgpt-avg'"):
        load_cited_table(p)


# ---------------------------------------------------------------- cited figures


def test_per_token_entry_scales_with_output_tokens():
    per_tok = raw_entry("gpt-4o-jegham")
    src = CitedEstimate("gpt-4o-jegham")
    a, b = src.window_energy(window(out=500)), src.window_energy(window(out=1500, prompt=9000))
    assert a.joules == pytest.approx(per_tok["value"] * 500)
    assert b.joules == pytest.approx(per_tok["value"] * 1500)
    assert a.low_j == pytest.approx(per_tok["range"]["low"] * 500)
    assert a.high_j == pytest.approx(per_tok["range"]["high"] * 500)
    assert (a.quality, a.source, a.boundary) == ("estimated", "cited:gpt-4o-jegham", per_tok["boundary"])
    assert "500 output tokens" in a.note and "token-scaled" in a.flags


def test_per_query_entry_is_a_constant_whatever_the_tokens():
    src = CitedEstimate("frontier-200b-oviedo")
    short, long_ = src.window_energy(window(out=10, prompt=5)), src.window_energy(window(out=8000, prompt=20000))
    assert short.joules == long_.joules == pytest.approx(0.31 * 3600)
    assert (short.low_j, short.high_j) == (pytest.approx(0.16 * 3600), pytest.approx(0.60 * 3600))
    assert "typical prompt" in short.note and "not scaled" in short.note
    assert "per-query-constant" in short.flags
    # per-query needs no token count at all
    assert src.window_energy(window(out=None, prompt=None)).joules == pytest.approx(0.31 * 3600)


def test_entry_without_range_gives_no_range():
    e = CitedEstimate("chatgpt-avg").window_energy(window())
    assert e.joules == pytest.approx(0.34 * 3600) and e.low_j is None and e.high_j is None
    assert e.boundary == UNSTATED


@pytest.mark.parametrize("out", [None, 0])
def test_per_token_entry_without_output_tokens_is_na(out):
    e = CitedEstimate("gpt-4o-epoch").window_energy(window(out=out))
    assert e.joules is None and e.quality == "unavailable" and "N/A" in e.note
    assert e.low_j is None and e.high_j is None


def test_unknown_id_is_one_line_listing_the_known_ids():
    with pytest.raises(EstimateError) as e:
        CitedEstimate("gpt-9-guess")
    msg = str(e.value)
    assert "gpt-9-guess" in msg and "\n" not in msg
    assert all(i in msg for i in TABLE_2_8_IDS)


def test_cited_settle_gives_the_same_figures_and_never_none():
    src = CitedEstimate("gpt-4o-epoch")
    ws = [window(out=100), window(out=None), window(out=700)]
    now = [src.window_energy(w) for w in ws]
    assert all(x is not None for x in now)
    assert src.settle(ws, timeout_s=0.0) == now


def test_cited_describe_records_the_table_version_and_the_entry():
    d = CitedEstimate("gemini-apps-median").describe()
    assert d["name"] == "cited:gemini-apps-median" and d["quality"] == "estimated"
    assert d["data_version"] == raw_table()["version"] and d["boundary"] == SERVER_DATACENTRE
    assert d["entry"]["source"]["arxiv"] == "2508.15734"
    json.dumps(d)  # the session stores it as JSON


# ---------------------------------------------------------------- EcoLogits provider


@pytest.mark.parametrize("url, provider", [
    ("https://api.openai.com/v1", "openai"),
    ("https://api.anthropic.com/v1/", "anthropic"),
    ("https://api.mistral.ai/v1", "mistralai"),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "google_genai"),
    ("https://router.huggingface.co/v1", "huggingface_hub"),
    ("https://my-res.openai.azure.com/openai", "openai"),
])
def test_provider_from_the_base_url_host(url, provider):
    assert resolve_provider(url)[0] == provider


@pytest.mark.parametrize("url, words", [
    ("https://api.groq.com/openai/v1", "not an EcoLogits provider"),
    ("http://127.0.0.1:8080/v1", "local or self-hosted"),
    ("http://gpu-box:8000/v1", "local or self-hosted"),
    ("https://llm.example.com/v1", "no EcoLogits provider for host llm.example.com"),
    (None, "no base URL"),
])
def test_unknown_provider_is_none_with_the_reason(url, words):
    prov, why = resolve_provider(url)
    assert prov is None and words in why


def test_explicit_provider_wins_and_must_be_known():
    assert resolve_provider("http://127.0.0.1:8080/v1", "mistralai") == ("mistralai", "set explicitly")
    with pytest.raises(EstimateError, match="not one of"):
        resolve_provider(None, "groq")


def test_ecologits_missing_is_one_line_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(est, "ecologits_version", lambda: None)
    with pytest.raises(EstimateError) as e:
        EcoLogitsEstimate("openai")
    assert "pip install 'ipwtui[cloud]'" in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------- EcoLogits figures


def test_ecologits_gpt4o_gives_a_range_in_joules():
    pytest.importorskip("ecologits")
    from ecologits.tracers.utils import llm_impacts

    e = EcoLogitsEstimate(base_url="https://api.openai.com/v1").window_energy(window(out=500, seconds=10.0))
    assert e is not None and e.source == "ecologits" and e.quality == "estimated"
    assert e.boundary == SERVER_DATACENTRE
    assert 0 < e.low_j < e.high_j
    assert e.joules == pytest.approx((e.low_j + e.high_j) / 2)
    # the same request asked of EcoLogits directly, converted here: kWh -> J
    raw = llm_impacts("openai", "gpt-4o", 500, 10.0).energy
    assert raw.unit == "kWh"
    assert e.low_j == pytest.approx(raw.value.min * 3.6e6)
    assert e.high_j == pytest.approx(raw.value.max * 3.6e6)
    assert "warnings:" in e.note  # GPT-4o's architecture is not released: EcoLogits says so


def test_ecologits_unknown_model_is_na_not_zero():
    pytest.importorskip("ecologits")
    e = EcoLogitsEstimate("openai").window_energy(window(model="no-such-model-xyz"))
    assert e.joules is None and e.quality == "unavailable"
    assert "no-such-model-xyz" in e.note


def test_ecologits_unknown_host_and_missing_tokens_are_na():
    pytest.importorskip("ecologits")
    e = EcoLogitsEstimate(base_url="https://api.groq.com/openai/v1").window_energy(window())
    assert e.joules is None and "Groq" in e.note
    e = EcoLogitsEstimate("openai").window_energy(window(out=None))
    assert e.joules is None and "output token" in e.note


def test_ecologits_aggregator_reads_the_vendor_prefix():
    pytest.importorskip("ecologits")
    from ecologits.tracers.utils import llm_impacts

    src = EcoLogitsEstimate(base_url="https://openrouter.ai/api/v1")
    e = src.window_energy(window(model="openai/gpt-4o-mini", out=300, seconds=3.0))
    raw = llm_impacts("openai", "gpt-4o-mini", 300, 3.0).energy.value
    assert e.low_j == pytest.approx(raw.min * 3.6e6) and e.high_j == pytest.approx(raw.max * 3.6e6)
    assert src.window_energy(window(model="qwen/qwen3-235b-a22b")).joules is None


def test_ecologits_settle_and_describe():
    pytest.importorskip("ecologits")
    src = EcoLogitsEstimate("openai", "gpt-4o")
    ws = [window(out=200, model="served-name-ignored"), window(out=None)]
    assert src.settle(ws) == [src.window_energy(w) for w in ws]
    assert src.settle(ws)[0].joules is not None  # the explicit model overrides the served name
    d = src.describe()
    assert d["ecologits_version"] == est.ecologits_version() and d["boundary"] == SERVER_DATACENTRE
    json.dumps(d)


# ---------------------------------------------------------------- make_source


def test_make_source_by_setting():
    assert make_source("none") is None
    s = make_source("cited:gpt-4o-epoch")
    assert isinstance(s, CitedEstimate) and s.name == "cited:gpt-4o-epoch"
    sentinel = object()
    assert make_source("prometheus", prometheus=lambda: sentinel) is sentinel
    with pytest.raises(EstimateError, match="Prometheus module"):
        make_source("prometheus")
    with pytest.raises(EstimateError, match="not one of none, ecologits, prometheus or cited:ID"):
        make_source("guess")
    with pytest.raises(EstimateError, match="known ids"):
        make_source("cited:nope")


def test_make_source_ecologits():
    pytest.importorskip("ecologits")
    s = make_source("ecologits", base_url="https://api.mistral.ai/v1")
    assert isinstance(s, EcoLogitsEstimate) and s.provider == "mistralai"


# ---------------------------------------------------------------- a figure for another model


@pytest.mark.parametrize("entry_id, served, applies", [
    ("gemini-apps-median", "gemini-2.5-flash", True), ("gemini-apps-median", "models/gemini-2.0-pro", True),
    ("gemini-apps-median", "smollm2-135m-instruct", False), ("gpt-4o-jegham", "gpt-4o", True),
    ("gpt-4o-jegham", "GPT-4o-2024-08-06", True), ("gpt-4o-jegham", "gpt-4o-mini", False),
    ("gpt-4o-jegham", "openai/gpt-4o", True), ("gpt-4o-mini-epoch", "gpt-4o-mini-2024-07-18", True),
    ("frontier-200b-oviedo", "anything", None), ("open-chat-b200-mlenergy", "llama-3-70b", None),
])
def test_an_entry_says_which_served_models_it_describes(entry_id, served, applies):
    assert load_cited_table().get(entry_id).applies_to(served) is applies


def test_a_cited_figure_for_another_model_is_warned_before_and_flagged_on_each_query():
    src = CitedEstimate("gemini-apps-median")
    [warning] = src.advice("smollm2-135m-instruct")
    assert "cited:gemini-apps-median" in warning and "'smollm2-135m-instruct'" in warning and "\n" not in warning
    e = src.window_energy(window(model="smollm2-135m-instruct"))
    assert e.joules == pytest.approx(0.24 * 3600) and "other-model" in e.flags  # still the figure, flagged
    assert "not one this figure describes" in e.note
    ok = src.window_energy(window(model="gemini-2.5-flash"))
    assert src.advice("gemini-2.5-flash") == [] and "other-model" not in ok.flags
    assert CitedEstimate("frontier-200b-oviedo").advice("whatever") == []  # a class of models: no claim


def test_loader_refuses_models_that_are_not_a_list_of_names(tmp_path):
    data = raw_table()
    data["entries"][0]["models"] = "gemini-*"
    p = tmp_path / "t.json"
    p.write_text(json.dumps(data))
    with pytest.raises(EstimateError, match="models must be a list"):
        load_cited_table(p)


def test_ecologits_on_a_server_it_cannot_model_is_warned_before_the_run():
    pytest.importorskip("ecologits")
    [warning] = EcoLogitsEstimate(base_url="http://127.0.0.1:8080/v1").advice("smollm2")
    assert warning.startswith("server energy ecologits will be N/A for every query:") and "127.0.0.1" in warning
    assert EcoLogitsEstimate(base_url="https://api.openai.com/v1").advice("gpt-4o") == []
