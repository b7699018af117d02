"""Cost: the price table as data, lookups and overrides, API and electricity cost, the session helpers."""

import json
import math
from importlib import resources

import pytest

from ipwtui.core.cost import (
    LOCAL_SOURCE,
    PriceError,
    accuracy_per_dollar,
    cost_per_correct,
    cost_per_query,
    energy_cost,
    load_prices,
    normalise_model,
    parse_overrides,
    price_table,
    query_cost,
)


def raw_prices() -> dict:
    """The packaged file read as plain JSON, not through the loader under test."""
    return json.loads((resources.files("ipwtui") / "data" / "prices.json").read_text(encoding="utf-8"))


def raw_price(model: str) -> dict:
    return next(p for p in raw_prices()["prices"] if p["model"] == model)


@pytest.fixture(scope="module")
def table():
    return load_prices()


# ---------------------------------------------------------------- the data file


def test_price_file_is_versioned_dated_and_in_usd():
    data = raw_prices()
    assert data["version"] and data["currency"] == "USD" and "per million tokens" in data["unit"]
    y, m, d = data["updated"].split("-")
    assert len(y) == 4 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31


@pytest.mark.parametrize("p", raw_prices()["prices"], ids=lambda p: p["model"])
def test_every_price_is_well_formed(p):
    for key in ("input_per_mtok", "output_per_mtok"):
        v = p[key]
        assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    assert p["output_per_mtok"] > 0  # every listed model charges for output
    assert p["source"].startswith("https://")
    y, m, d = p["read"].split("-")
    assert len(y) == 4 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31
    assert p["provider"]
    if "long_context" in p:
        lc = p["long_context"]
        assert lc["above_prompt_tokens"] > 0
        assert lc["input_per_mtok"] >= p["input_per_mtok"] and lc["output_per_mtok"] >= p["output_per_mtok"]


def test_no_name_is_listed_twice():
    names = [n for p in raw_prices()["prices"] for n in (p["model"], *p.get("aliases", []))]
    assert len(names) == len(set(names))


def test_the_papers_cloud_price_is_listed():
    # Intelligence per Watt, Table 10: Qwen3-235B on OpenRouter, $0.22 in / $0.88 out per million tokens
    p = raw_price("qwen/qwen3-235b-a22b")
    assert (p["input_per_mtok"], p["output_per_mtok"]) == (0.22, 0.88)


def test_loader_reads_what_the_file_says(table):
    assert table.version == raw_prices()["version"]
    assert len(table.prices) == len(raw_prices()["prices"])
    p, how = table.lookup("gpt-4o-mini")
    assert how == "exact" and (p.input_per_mtok, p.output_per_mtok) == (0.15, 0.60)


@pytest.mark.parametrize("bad, words", [
    ({"input_per_mtok": -1}, "input_per_mtok: must be a finite number >= 0"),
    ({"output_per_mtok": float("nan")}, "output_per_mtok: must be a finite number >= 0"),
    ({"output_per_mtok": float("inf")}, "output_per_mtok: must be a finite number >= 0"),
    ({"input_per_mtok": "2.5"}, "input_per_mtok: must be a finite number >= 0"),
    ({"long_context": {"above_prompt_tokens": 0, "input_per_mtok": 1, "output_per_mtok": 1}}, "above_prompt_tokens"),
])
def test_loader_refuses_a_bad_price_in_one_line(tmp_path, bad, words):
    entry = {"model": "m", "provider": "x", "input_per_mtok": 1.0, "output_per_mtok": 2.0, "source": "https://x",
             "read": "2026-01-01", **bad}
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"version": "1", "updated": "2026-01-01", "currency": "USD", "prices": [entry]}))
    with pytest.raises(PriceError) as e:
        load_prices(f)
    assert words in str(e.value) and str(f) in str(e.value) and "price 1 (m)" in str(e.value)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- lookup


def test_normalise_model():
    assert normalise_model("openai/gpt-4o-2024-08-06") == "gpt-4o"
    assert normalise_model("claude-3-5-haiku-20241022") == "claude-3-5-haiku"
    assert normalise_model("models/gemini-2.0-flash") == "gemini-2.0-flash"
    assert normalise_model("GPT-4.1-Nano") == "gpt-4.1-nano"
    assert normalise_model("gpt-4.1-nano") == "gpt-4.1-nano"


@pytest.mark.parametrize("name, listed, how", [
    ("gpt-4o", "gpt-4o", "exact"),
    ("GPT-4o", "gpt-4o", "case-insensitive"),
    ("openai/gpt-4o", "gpt-4o", "without provider prefix"),
    ("openai/gpt-4o-2099-01-01", "gpt-4o", "normalised"),
    ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet", "exact"),  # a listed alias
    ("anthropic/claude-3-haiku-20990101", "claude-3-haiku", "normalised"),
    ("models/gemini-2.5-flash", "gemini-2.5-flash", "without provider prefix"),
])
def test_lookup_steps(table, name, listed, how):
    p, got = table.lookup(name)
    assert p is not None and p.model == listed and got == how


def test_a_dated_snapshot_with_its_own_price_is_not_normalised_away(table):
    # gpt-4o-2024-05-13 launched at $5 / $15; the undated gpt-4o is $2.50 / $10
    old = raw_price("gpt-4o-2024-05-13")
    usd, _ = query_cost("openai/gpt-4o-2024-05-13", 1_000_000, 0, table)
    assert usd == pytest.approx(old["input_per_mtok"])
    usd, _ = query_cost("gpt-4o", 1_000_000, 0, table)
    assert usd == pytest.approx(raw_price("gpt-4o")["input_per_mtok"])


def test_unknown_model_is_none_not_zero(table):
    p, how = table.lookup("my-secret-model")
    assert p is None and how == ""
    usd, why = query_cost("my-secret-model", 100, 100, table)
    assert usd is None and "no price for 'my-secret-model'" in why and "prices section" in why


# ---------------------------------------------------------------- query cost


def test_query_cost_by_hand(table):
    # gpt-4.1-mini: $0.40 in, $1.60 out per million tokens (the provider's page)
    usd, src = query_cost("gpt-4.1-mini", 2000, 500, table)
    assert usd == pytest.approx(2000 * 0.40 / 1e6 + 500 * 1.60 / 1e6)
    assert "platform.openai.com" in src and "read " in src


def test_long_prompts_use_the_long_context_rate(table):
    lc = raw_price("gemini-2.5-pro")["long_context"]
    n = lc["above_prompt_tokens"]
    short, _ = query_cost("gemini-2.5-pro", n, 1000, table)
    long_, src = query_cost("gemini-2.5-pro", n + 1, 1000, table)
    base = raw_price("gemini-2.5-pro")
    assert short == pytest.approx((n * base["input_per_mtok"] + 1000 * base["output_per_mtok"]) / 1e6)
    assert long_ == pytest.approx(((n + 1) * lc["input_per_mtok"] + 1000 * lc["output_per_mtok"]) / 1e6)
    assert "long-context" in src


@pytest.mark.parametrize("prompt, out", [(None, 10), (10, None), (None, None)])
def test_missing_tokens_are_na(table, prompt, out):
    usd, why = query_cost("gpt-4o", prompt, out, table)
    assert usd is None and why.startswith("N/A") and "token count" in why


def test_local_model_is_free_and_says_so(table):
    assert query_cost("qwen3-4b", None, None, table, local=True) == (0.0, LOCAL_SOURCE)
    assert "electricity" in LOCAL_SOURCE


def test_zero_tokens_cost_zero_for_a_priced_model(table):
    usd, _ = query_cost("gpt-4o", 0, 0, table)
    assert usd == 0.0


# ---------------------------------------------------------------- overrides


def test_overrides_win_and_carry_the_listed_names():
    t = price_table({"gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 4.0},
                     "local-llama": {"input_per_mtok": 0, "output_per_mtok": 0}}, where="/home/u/config.json")
    usd, src = query_cost("openai/gpt-4o-2024-08-06", 1_000_000, 1_000_000, t)
    assert usd == pytest.approx(5.0) and "override in /home/u/config.json" in src
    assert query_cost("local-llama", 10, 10, t)[0] == 0.0
    assert t.describe()["overridden"] == ["gpt-4o", "local-llama"]
    # the dated snapshot with its own listed price is not the override's
    assert query_cost("gpt-4o-2024-05-13", 1_000_000, 0, t)[0] == pytest.approx(5.0)


@pytest.mark.parametrize("section, words", [
    ({"gpt-4o": {"input_per_mtok": float("inf"), "output_per_mtok": 1}},
     "prices.gpt-4o.input_per_mtok: must be a finite"),
    ({"gpt-4o": {"input_per_mtok": 1, "output_per_mtok": float("nan")}},
     "prices.gpt-4o.output_per_mtok: must be a finite"),
    ({"gpt-4o": {"input_per_mtok": -0.5, "output_per_mtok": 1}}, "must be a finite number >= 0"),
    ({"gpt-4o": {"input_per_mtok": True, "output_per_mtok": 1}}, "must be a finite number >= 0"),
    ({"gpt-4o": {"input_per_mtok": "1", "output_per_mtok": 1}}, "must be a finite number >= 0"),
    ({"gpt-4o": {"input_per_mtok": 1}}, "prices.gpt-4o: missing output_per_mtok"),
    ({"gpt-4o": {"input_per_mtok": 1, "output_per_mtok": 1, "inptu_per_mtok": 2}}, "unknown key 'inptu_per_mtok'"),
    ({"gpt-4o": 2.5}, "prices.gpt-4o: must be an object"),
    ([1, 2], "prices must be an object"),
])
def test_bad_overrides_are_one_line_errors_naming_the_file(section, words):
    with pytest.raises(PriceError) as e:
        parse_overrides(section, where="config.json")
    msg = str(e.value)
    assert words in msg and msg.startswith("config.json:") and "\n" not in msg


def test_no_overrides_is_the_packaged_table():
    assert parse_overrides(None) == []
    assert len(price_table(None).prices) == len(load_prices().prices)


# ---------------------------------------------------------------- electricity


def test_energy_cost_by_hand():
    assert energy_cost(3.6e6, 0.25) == pytest.approx(0.25)  # 1 kWh at $0.25
    assert energy_cost(1800.0, 0.30) == pytest.approx(0.5 / 1000 * 0.30)  # 0.5 Wh
    assert energy_cost(0.0, 0.30) == 0.0


def test_energy_cost_unknown_is_none():
    assert energy_cost(None, 0.3) is None
    assert energy_cost(100.0, None) is None


@pytest.mark.parametrize("joules, price", [(float("inf"), 0.3), (float("nan"), 0.3), (-1.0, 0.3), (1.0, -0.1),
                                           (1.0, float("nan")), (1.0, float("inf"))])
def test_energy_cost_refuses_bad_numbers(joules, price):
    with pytest.raises(PriceError) as e:
        energy_cost(joules, price)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- per session


def test_cost_per_query_over_the_known():
    assert cost_per_query([0.01, None, 0.03]) == pytest.approx(0.02)
    assert cost_per_query([None, None]) is None
    assert cost_per_query([]) is None


def test_cost_per_correct_by_hand():
    costs = [0.01, 0.02, None, 0.03, 0.04]
    correct = [True, False, True, None, True]
    # known costs: 0.01 + 0.02 + 0.03 + 0.04 = 0.10; correct among them: queries 0 and 4
    assert cost_per_correct(costs, correct) == pytest.approx(0.10 / 2)
    assert cost_per_correct([0.01, 0.02], [False, None]) is None


def test_accuracy_per_dollar_by_hand():
    costs = [0.01, 0.03, None, 0.02]
    correct = [True, False, True, None]
    # known: 0, 1, 3 -> mean cost 0.02; scored among them: 0, 1 -> accuracy 0.5
    assert accuracy_per_dollar(costs, correct) == pytest.approx(0.5 / 0.02)


def test_accuracy_per_dollar_undefined_cases():
    assert accuracy_per_dollar([0.0, 0.0], [True, True]) is None  # free: not a number
    assert accuracy_per_dollar([0.01], [None]) is None  # nothing scored
    assert accuracy_per_dollar([None], [True]) is None  # no cost known
    with pytest.raises(ValueError, match="differ in length"):
        accuracy_per_dollar([0.01], [True, False])
