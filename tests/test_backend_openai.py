"""The openai backend against a real OpenAI-compatible server (llama-cpp-python's own, on loopback, serving
the bundled default model) and against a scripted misbehaving one (tests/fault_server.py).

No network but 127.0.0.1. Waits are bounded (short read timeouts, scripted delays a few tenths of a
second); no test asserts on how fast anything ran.
"""

from __future__ import annotations

import json
import math
import secrets
import socket
import time
from email.utils import formatdate

import pytest

from fault_server import (
    MODEL,
    FaultServer,
    Status,
    Stream,
    Whole,
    chunk,
    llamacpp_shape,
    openai_shape,
    plain,
    vllm_continuous,
)
from ipwtui import backends
from ipwtui.backends.openai import ENGINE, check
from ipwtui.backends.openai.backend import (
    SOURCE_CHUNKS,
    SOURCE_CHUNKS_ABORTED,
    SOURCE_TIMINGS,
    SOURCE_USAGE,
    SOURCE_VLLM,
    OpenAIBackend,
)
from ipwtui.backends.openai.client import HIDDEN, Scrubber, retry_after_s
from ipwtui.backends.openai.sse import Event, events
from ipwtui.core.backend import REMOTE, BackendError
from ipwtui.core.settings import RunSettings

MSG = [{"role": "user", "content": "Which letter comes first, A or B?"}]
KEY_ENV = "IPWTUI_TEST_OPENAI_KEY"


@pytest.fixture
def fault():
    with FaultServer() as s:
        yield s


def make(server: FaultServer, read: float = 5.0, connect: float = 2.0, key: str | None = None,
         model: str = MODEL) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, model, api_key=key, key_env=KEY_ENV, connect_timeout_s=connect,
                         read_timeout_s=read)


def fails(b: OpenAIBackend) -> BackendError:
    with pytest.raises(BackendError) as ei:
        b.generate(MSG, 16)
    e = ei.value
    assert "\n" not in str(e) and str(e).strip()
    return e


def ordered(g) -> None:
    assert g.t_sent <= g.t_first <= g.t_last <= g.t_done


# ---- the SSE reader ---------------------------------------------------------------------------------


def test_sse_reader_fields_comments_multiline_and_an_unterminated_last_event():
    lines = [": keep-alive", "data: {\"a\": 1}", "", "event: ping", "data: x", "", "data:1", "data: 2", "",
             "id: 7", "retry: 10", "", "error: {\"message\": \"boom\"}", "", "data: [DONE]"]
    assert list(events(lines)) == [Event("message", '{"a": 1}'), Event("ping", "x"), Event("message", "1\n2"),
                                   Event("error", '{"message": "boom"}'), Event("message", "[DONE]")]


# ---- the engine ---------------------------------------------------------------------------------------


def test_engine_is_registered_remote_and_names_its_model(monkeypatch):
    eng = backends.engine("openai")
    assert eng is ENGINE and eng.where == REMOTE and "openai" in backends.names()
    with pytest.raises(BackendError, match="--remote-model"):
        eng.resolve_model(None)
    assert eng.resolve_model(None, RunSettings(remote_model="gpt-x")).name == "gpt-x"
    ref = eng.resolve_model("served-name")
    assert (ref.name, ref.path, ref.format) == ("served-name", None, "remote")
    assert eng.fingerprint(ref) is None  # a served name says nothing of its weights
    models, problems = eng.find_models()
    assert models == [] and len(problems) == 1 and "--base-url" in problems[0]
    with pytest.raises(BackendError, match="--base-url"):
        eng.create(ref, RunSettings())
    assert check(RunSettings()) is not None and "--base-url" in check(RunSettings())
    monkeypatch.setenv("IPWTUI_NO_SUCH_KEY_VAR", "")
    b = eng.create(ref, RunSettings(base_url="http://127.0.0.1:9/v1", api_key_env="IPWTUI_NO_SUCH_KEY_VAR"))
    assert b.traits.remote and b.traits.name == "openai"
    assert "Authorization" not in b._headers()  # an empty variable is no key


def test_find_models_and_check_against_a_server(fault, monkeypatch):
    s = RunSettings(base_url=fault.base_url, api_key_env=KEY_ENV)
    monkeypatch.delenv(KEY_ENV, raising=False)
    models, problems = ENGINE.find_models(settings=s)
    assert [m.name for m in models] == [MODEL] and problems == []
    assert models[0].format == "remote" and models[0].path is None
    assert check(s, MODEL) is None
    assert check(s) is not None and "--remote-model" in check(s)  # no model chosen
    p = check(s, "other-model")
    assert "does not list model 'other-model'" in p and MODEL in p
    # a server that lists no models: the check asks for a 1-token answer instead
    fault.models = None
    assert check(s, MODEL) is None
    assert fault.completions()[-1].body["max_tokens"] == 1
    models, problems = ENGINE.find_models(settings=s)
    assert models == [] and "--remote-model" in problems[0]
    # a server that wants a key it did not get
    fault.models_status = 401
    p = check(s, MODEL)
    assert "401" in p and KEY_ENV in p and "not set" in p


def test_check_says_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = check(RunSettings(base_url=f"http://127.0.0.1:{port}/v1", connect_timeout_s=1))
    assert p is not None and "cannot connect" in p


def test_load_checks_the_server_and_fails_in_one_line(fault):
    b = make(fault)
    info = b.load()
    assert info.name == MODEL and info.backend == "openai" and b.listed == [MODEL]
    b.close()
    b = make(fault, model="missing")
    with pytest.raises(BackendError, match="does not list model 'missing'"):
        b.load()
    b.close()


# ---- what is sent --------------------------------------------------------------------------------------


def test_the_request_streams_asks_for_usage_and_carries_the_settings(fault):
    b = make(fault)
    b.generate(MSG, 7, temperature=0.5, seed=42)
    body = fault.completions()[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["model"], body["max_tokens"], body["temperature"], body["seed"]) == (MODEL, 7, 0.5, 42)
    assert body["messages"] == MSG
    assert "authorization" not in {k.lower() for k in fault.completions()[-1].headers}  # no key, no header
    b.close()
    b = make(fault, key="sk-local-123")
    b.generate(MSG, 7)
    hdrs = {k.lower(): v for k, v in fault.completions()[-1].headers.items()}
    assert hdrs["authorization"] == "Bearer sk-local-123"
    b.close()


# ---- counts: what each kind of server reports ------------------------------------------------------------


def test_no_usage_counts_stream_chunks_and_says_so(fault):
    pieces = ["The", " answer", " is", " (B)", "."]
    fault.push(Stream(plain(pieces)))
    seen = []
    g = make(fault).generate(MSG, 16, on_token=lambda p, t: seen.append((p, t)) is None)
    assert g.text == "".join(pieces) and [p for p, _ in seen] == pieces
    assert g.output_tokens == len(pieces) and g.prompt_tokens is None
    assert g.counts_source == SOURCE_CHUNKS == "stream chunks (no usage from the server)"
    assert g.prefill_tps is None and g.decode_tps is None  # never wall time dressed up as the server's
    assert g.finish_reason == "stop" and not g.aborted and g.server["done_marker"] is True
    ordered(g)
    assert g.t_first == seen[0][1] and g.t_last == seen[-1][1]


def test_openai_usage_on_a_separate_empty_choices_chunk(fault):
    fault.push(Stream(openai_shape(["A", "B", "C"], prompt_tokens=31, completion_tokens=4)))
    g = make(fault).generate(MSG, 16)
    assert (g.prompt_tokens, g.output_tokens) == (31, 4)
    assert g.counts_source == SOURCE_USAGE and g.text == "ABC"
    assert g.server["usage"]["total_tokens"] == 35 and g.server["system_fingerprint"] == "fp_fault"
    assert g.prefill_tps is None and g.decode_tps is None
    ordered(g)


def test_llama_cpp_timings_on_the_final_chunk(fault):
    timings = {"prompt_n": 20, "prompt_ms": 40.0, "prompt_per_token_ms": 2.0, "prompt_per_second": 500.0,
               "predicted_n": 3, "predicted_ms": 60.0, "predicted_per_token_ms": 20.0,
               "predicted_per_second": 50.0, "cache_n": 5}
    fault.push(Stream(llamacpp_shape(["x", "y", "z"], timings)))
    g = make(fault).generate(MSG, 16)
    assert (g.prompt_tokens, g.output_tokens) == (25, 3)  # prompt_n excludes the cached tokens
    assert (g.prefill_tps, g.decode_tps) == (500.0, 50.0)
    assert g.counts_source == SOURCE_TIMINGS == "llama.cpp server timings"
    assert g.server["timings"] == timings
    # usage and timings together: counts from usage, rates from the timings
    usage = {"prompt_tokens": 25, "completion_tokens": 3, "total_tokens": 28}
    no_rate = {k: v for k, v in timings.items() if not k.endswith("per_second")}
    fault.push(Stream(llamacpp_shape(["x", "y", "z"], no_rate, usage=usage)))
    g = make(fault).generate(MSG, 16)
    assert (g.prompt_tokens, g.output_tokens) == (25, 3)
    assert g.counts_source == f"{SOURCE_USAGE}; rates: {SOURCE_TIMINGS}"
    assert g.prefill_tps == pytest.approx(20 / 0.040) and g.decode_tps == pytest.approx(3 / 0.060)


def test_vllm_cumulative_usage_on_every_chunk_is_not_summed(fault):
    fault.push(Stream(vllm_continuous(["a", "b", "c", "d", "e", "f"], prompt_tokens=12)))
    g = make(fault).generate(MSG, 16)
    assert (g.prompt_tokens, g.output_tokens) == (12, 6)
    assert g.counts_source == SOURCE_USAGE
    last = vllm_continuous(["a"], 3)[-1]
    last["metrics"] = {"time_to_first_token_ms": 5.0, "generation_time_ms": 30.0, "tokens_per_second": 88.0}
    fault.push(Stream(vllm_continuous(["a"], 3)[:-1] + [last]))
    g = make(fault).generate(MSG, 16)
    assert g.decode_tps == 88.0 and g.prefill_tps is None
    assert g.counts_source == f"{SOURCE_USAGE}; rates: {SOURCE_VLLM}"


def test_reasoning_chunks_are_not_the_answer_but_are_counted_without_usage(fault):
    think = chunk()
    think["choices"][0]["delta"] = {"reasoning_content": "hmm"}
    fault.push(Stream([think, think, chunk("(A)"), chunk(None, "stop")]))
    g = make(fault).generate(MSG, 16)
    assert g.text == "(A)" and g.output_tokens == 3 and g.server["reasoning_chunks"] == 2


def test_a_non_streamed_answer_is_taken_whole(fault):
    fault.push(Whole({"id": "x", "object": "chat.completion", "model": MODEL,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "It is (A)."},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}}))
    got = []
    g = make(fault).generate(MSG, 16, on_token=lambda p, t: got.append(p) is None)
    assert g.text == "It is (A)." and got == ["It is (A)."]
    assert (g.prompt_tokens, g.output_tokens, g.counts_source) == (9, 5, SOURCE_USAGE)


def test_stopping_closes_the_stream_at_once(fault):
    fault.push(Stream(plain([f" w{i}" for i in range(50)]), delay=0.02))
    n = []
    g = make(fault).generate(MSG, 64, on_token=lambda p, t: (n.append(p), len(n) < 3)[1])
    assert g.aborted and g.finish_reason == "abort" and len(n) == 3 and g.text == " w0 w1 w2"
    assert g.counts_source == SOURCE_CHUNKS_ABORTED and g.output_tokens == 3
    ordered(g)


def test_no_done_marker_after_a_finish_reason_is_a_whole_answer(fault):
    fault.push(Stream(plain(["ok"]), done=False))
    g = make(fault).generate(MSG, 16)
    assert g.text == "ok" and g.finish_reason == "stop" and g.server["done_marker"] is False


def test_keep_alive_comments_and_pacing_are_not_content(fault):
    fault.push(Stream([": PROCESSING\n\n", chunk("a"), ": still here\n\n", chunk("b"), chunk(None, "stop")],
                      delay=0.01))
    g = make(fault).generate(MSG, 16)
    assert g.text == "ab" and g.output_tokens == 2


# ---- faults ------------------------------------------------------------------------------------------------


def test_server_error_is_retryable_and_carries_the_message(fault):
    fault.push(Status(500, {"error": {"message": "the model crashed\nsecond line", "type": "server_error"}}))
    e = fails(make(fault))
    assert e.status == 500 and e.retryable and e.retry_after is None
    assert "500" in str(e) and "the model crashed second line" in str(e)


@pytest.mark.parametrize("code,retryable", [(400, False), (404, False), (422, False), (408, True), (409, True),
                                            (502, True), (503, True)])
def test_status_codes_map_to_retryable(fault, code, retryable):
    fault.push(Status(code, {"detail": f"said {code}"}))
    e = fails(make(fault))
    assert e.status == code and e.retryable is retryable and f"said {code}" in str(e)


def test_a_wrong_base_url_says_so(fault):
    fault.push(Status(404, ""))
    e = fails(make(fault))
    assert e.status == 404 and not e.retryable and "check the base URL" in str(e)
    fault.push(Whole({"x": 1}))
    fault.push(Status(200, "<html><body>Welcome</body></html>", {"Content-Type": "text/html"}))
    fails(make(fault))  # a JSON body without choices
    e = fails(make(fault))
    assert not e.retryable and "web page" in str(e)


def test_a_long_text_error_body_is_cut_to_one_short_line(fault):
    fault.push(Status(400, "bad request " + "x" * 5000 + "\n<html>"))
    e = fails(make(fault))
    assert len(str(e)) < 400 and not e.retryable


def test_401_names_the_key_variable_and_is_not_retried(fault):
    fault.push(Status(401, {"error": {"message": "Incorrect API key provided"}}))
    e = fails(make(fault, key="sk-abc"))
    assert e.status == 401 and not e.retryable and KEY_ENV in str(e) and "refused" in str(e)


def test_429_retry_after_in_seconds_and_as_a_date(fault):
    fault.push(Status(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "2"}))
    e = fails(make(fault))
    assert e.status == 429 and e.retryable and e.retry_after == 2.0 and "Rate limit reached" in str(e)
    fault.push(Status(429, {"error": {"message": "slow down"}}, {"Retry-After": formatdate(time.time() + 30,
                                                                                            usegmt=True)}))
    e = fails(make(fault))
    assert e.retryable and 0 < e.retry_after <= 31
    fault.push(Status(429, {"error": {"message": "slow down"}}, {"retry-after-ms": "1500"}))
    assert fails(make(fault)).retry_after == 1.5
    fault.push(Status(429, {"error": {"message": "no hint"}}))
    e = fails(make(fault))
    assert e.retryable and e.retry_after is None


def test_retry_after_parsing():
    assert retry_after_s({"retry-after": "0"}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({"retry-after": "-3"}) is None
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412480.0 - 10) == 10.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412480.0 + 10) == 0.0


def test_first_byte_later_than_the_read_timeout(fault):
    fault.push(Stream(plain(["late"]), head_delay=3.0))
    e = fails(make(fault, read=0.5))
    assert e.retryable and e.status is None and "read timeout" in str(e) and "did not answer" in str(e)
    fault.push(Stream(plain(["late"]), first_delay=3.0))
    e = fails(make(fault, read=0.5))
    assert e.retryable and "read timeout" in str(e) and "no piece" in str(e)


def test_a_stall_between_pieces(fault):
    fault.push(Stream(plain(["a", "b", "c"]), delay=0.0, first_delay=0.0))
    fault.push(Stream([chunk("a"), chunk("b"), chunk("c")], delay=3.0))
    b = make(fault, read=0.5)
    b.generate(MSG, 16)  # a normal answer first: the same client goes on
    e = fails(b)
    assert e.retryable and "stalled" in str(e) and "after 1 piece " in str(e) + " "


def test_only_keep_alive_comments_for_longer_than_the_read_timeout_is_a_stall(fault):
    fault.push(Stream([chunk("a")] + [": PROCESSING\n\n"] * 12, delay=0.1))
    e = fails(make(fault, read=0.5))
    assert e.retryable and "keep-alive" in str(e)


def test_connection_dropped_mid_stream(fault):
    fault.push(Stream(plain(["a", "b", "c", "d"]), drop_after=3))  # the role chunk, then "a", "b"
    e = fails(make(fault))
    assert e.retryable and e.status is None and "dropped mid-stream after 2 pieces" in str(e)
    assert "partial answer is lost" in str(e)


def test_stream_closed_cleanly_before_the_answer_ended(fault):
    fault.push(Stream([chunk("a"), chunk("b")], done=False))
    e = fails(make(fault))
    assert e.retryable and "ended before the answer did" in str(e)


@pytest.mark.parametrize("bad,what", [
    ("data: {not json\n\n", "not JSON"),
    ({"id": "x", "object": "chat.completion.chunk"}, "no choices"),
    ({"id": "x", "choices": "oops"}, "choices is not a list"),
    ("data: [1, 2]\n\n", "not a JSON object"),
])
def test_malformed_stream_is_not_retryable(fault, bad, what):
    fault.push(Stream([chunk("a"), bad, chunk("b"), chunk(None, "stop")]))
    e = fails(make(fault))
    assert not e.retryable and "malformed stream" in str(e) and what in str(e)


def test_errors_reported_inside_the_stream(fault):
    fault.push(Stream([chunk("a"), ('error: {"code": 500, "message": "slot unavailable", '
                                    '"type": "server_error"}\n\n')]))
    e = fails(make(fault))
    assert e.retryable and "slot unavailable" in str(e) and "mid-stream" in str(e)
    fault.push(Stream([chunk("a"), {"error": {"message": "content policy", "type": "invalid_request_error"}}]))
    e = fails(make(fault))
    assert not e.retryable and "content policy" in str(e)


def test_connection_refused_and_connect_timeout_are_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", MODEL, connect_timeout_s=1)
    e = fails(b)
    assert e.retryable and "cannot connect" in str(e)
    # a listener whose backlog is full never completes a handshake: the connect times out
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fill = []
    try:
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fill.append(c)
        b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", MODEL, connect_timeout_s=0.3, read_timeout_s=0.3)
        e = fails(b)
        assert e.retryable and ("connect timeout" in str(e) or "did not answer" in str(e))
    finally:
        for c in fill:
            c.close()
        lst.close()


# ---- the key --------------------------------------------------------------------------------------------------


def test_scrubber_hides_the_key_its_parts_and_bearer_tokens():
    key = "sk-proj-" + secrets.token_hex(20)
    s = Scrubber(key)
    assert key not in s.text(f"bad key {key}!") and HIDDEN in s.text(f"bad key {key}!")
    masked = f"Incorrect API key provided: sk-proj-{'*' * 20}{key[-4:]}. See the docs."
    out = s.text(masked)
    assert key[-4:] not in out and "Incorrect API key provided:" in out and "See the docs." in out
    assert s.text("Authorization: Bearer abc.def") == f"Authorization: Bearer {HIDDEN}"
    assert s.data({"m": [key, {"k": key}]}) == {"m": [HIDDEN, {"k": HIDDEN}]}
    assert Scrubber(None).text("plain words") == "plain words"


def test_the_key_never_leaks_into_the_session_the_exports_or_the_errors(tmp_path, fault, monkeypatch):
    """A unique key, a run through the whole run path into a session folder with answers and faults (some
    of which echo the key back), an export: the key is in no file, no event, no exception."""
    from support import scripted_sensors, write_queries

    from ipwtui.core.export import export_session
    from ipwtui.runs import Run, RunRequest

    key = "sk-leak-" + secrets.token_hex(24)
    monkeypatch.setenv(KEY_ENV, key)
    echo = chunk("(A) " + key)  # a server that puts the key into the answer and its own figures
    echo["model"] = key
    echo["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "note": f"Bearer {key}"}
    fault.push(
        Stream(openai_shape(["The answer", " is (A)."], 20, 4)),
        Status(500, {"error": {"message": f"internal error while serving key {key}"}}),
        Status(401, {"error": {"message": f"Incorrect API key provided: sk-leak-{'*' * 30}{key[-4:]}."}}),
        Stream([echo, chunk(None, "stop")]),
        Status(429, {"error": {"message": f"rate limited ({key})"}}, {"Retry-After": "1"}),
        Stream(plain(["a", "b", "c"]), drop_after=2),
    )
    queries = write_queries(tmp_path / "q.jsonl", n=6)
    settings = RunSettings(base_url=fault.base_url, remote_model=MODEL, api_key_env=KEY_ENV, idle_seconds=0,
                           warmup=0, sample_hz=50, max_tokens=16, read_timeout_s=2, connect_timeout_s=2,
                           retries=0)  # one attempt a query: each scripted fault lands on its own query
    got = []
    run = Run(RunRequest(backend="openai", model=MODEL, queries=str(queries), out=str(tmp_path / "sess"),
                         settings=settings), listener=got.append, sensor_factory=scripted_sensors())
    outcome = run.execute()
    assert outcome.status == "finished"
    # the key was really sent, on every request
    assert all(r.headers.get("Authorization") == f"Bearer {key}" for r in fault.requests)
    recs = run.prepared.session.query_records()
    assert [r.status for r in recs] == ["ok", "error", "error", "ok", "error", "error"]
    assert all(r.where == "remote" and r.backend == "openai" for r in recs)
    errors = [r.error for r in recs if r.error]
    assert len(errors) == 4 and any(HIDDEN in e for e in errors)
    paths = export_session(outcome.folder, report=True)
    assert set(paths) >= {"queries", "samples", "summary", "report"}
    files = [p for p in outcome.folder.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for p in files:
        data = p.read_bytes()
        assert key.encode() not in data, f"the key is in {p.name}"
    assert {"session.json", "queries.csv", "summary.json", "report.md"} <= {p.name for p in files}
    assert "*" * 30 + key[-4:] not in recs[2].error and HIDDEN in recs[2].error  # the half-masked echo
    # the events a front end saw, the errors raised, the backend's repr and versions
    b = OpenAIBackend(fault.base_url, MODEL, api_key=key, key_env=KEY_ENV)
    fault.push(Status(500, {"error": {"message": f"echo {key}"}}))
    with pytest.raises(BackendError) as ei:
        b.generate(MSG, 4)
    texts = [str(ei.value), repr(ei.value), repr(b), json.dumps(b.versions()), repr(b.load())]
    texts += [repr(e) for e in got]
    assert [t for t in texts if key in t] == []
    b.close()


# ---- the real server: llama-cpp-python's own, on loopback -------------------------------------------------------


@pytest.mark.model
def test_real_server_lists_checks_and_streams(llama):
    s = RunSettings(base_url=llama.base_url, api_key_env=KEY_ENV)
    models, problems = ENGINE.find_models(settings=s)
    assert problems == [] and len(models) == 1
    name = models[0].name
    assert name.endswith(llama.model_path.name)  # this server lists the model by its file path
    assert check(s, name) is None
    b = ENGINE.create(ENGINE.resolve_model(name), s)
    assert b.load().name == name
    pieces = []
    g = b.generate([{"role": "user", "content": "What is the capital of France?"}], 24,
                   on_token=lambda p, t: pieces.append(p) is None)
    assert g.text and g.text == "".join(pieces)
    ordered(g)
    # this server sends no usage while streaming: the counts are the stream's chunks, labelled as such
    assert g.counts_source == SOURCE_CHUNKS and g.output_tokens == len(pieces) and g.prompt_tokens is None
    assert g.prefill_tps is None and g.decode_tps is None
    assert g.finish_reason in ("stop", "length") and 0 < g.output_tokens <= 24
    assert g.server["done_marker"] is True and g.server["content_chunks"] == len(pieces)
    # stopping after two pieces closes the stream; the server answers the next request as usual
    n = []
    g = b.generate([{"role": "user", "content": "Count from one to twenty."}], 48,
                   on_token=lambda p, t: (n.append(p), len(n) < 2)[1])
    assert g.aborted and len(n) == 2 and g.text == "".join(n)
    g = b.generate([{"role": "user", "content": "Say yes."}], 4)
    assert not g.aborted and g.text and 0 < g.output_tokens <= 4
    assert "httpx" in b.versions()
    b.close()


@pytest.mark.model
def test_real_server_run_through_the_runner(tmp_path, llama):
    from support import scripted_sensors

    from ipwtui.core.runner import Runner
    from ipwtui.core.session import Session
    from ipwtui.workloads.base import Query, Score

    name = ENGINE.find_models(settings=RunSettings(base_url=llama.base_url))[0][0].name
    settings = RunSettings(base_url=llama.base_url, remote_model=name, idle_seconds=0, warmup=1, sample_hz=50,
                           max_tokens=12)
    backend = ENGINE.create(ENGINE.resolve_model(None, settings), settings)
    backend.load()
    qs = [Query(id=f"q{i}", prompt=f"Is {i} even? Answer (A) yes or (B) no.", reference="A" if i % 2 == 0 else
                "B", kind="mc", domain="parity", dataset="t") for i in range(3)]
    sess = Session.create(tmp_path / "sess", {"id": "sess", "query_ids": [q.id for q in qs]})

    def scorer(q, answer):
        pred = "A" if "(A)" in answer else "B" if "(B)" in answer else None
        return Score(correct=pred == q.reference if pred else None, prediction=pred, scorer="test")

    r = Runner(sess, backend, scripted_sensors()().sensors, qs, settings, scorer=scorer, model_name=name)
    summary = r.run()
    backend.close()
    recs = r.session.query_records(include_warmup=True)
    assert len(recs) == 4 and recs[0].warmup
    for rec in recs:
        assert rec.status == "ok" and rec.where == "remote" and rec.backend == "openai"
        assert rec.counts_source == SOURCE_CHUNKS and rec.output_tokens and rec.prompt_tokens is None
        assert rec.answer and rec.ttft_s is not None and 0 <= rec.ttft_s <= rec.latency_s
        assert rec.energy_j is not None and not math.isnan(rec.energy_j)
        assert rec.server_report.get("content_chunks") == rec.output_tokens
    assert summary["queries"]["finished"] == 3


def test_a_run_that_stops_itself_on_failures_says_why_in_one_line_and_exits_1(tmp_path):
    """Every query is refused by the server: after --max-failures in a row the run stops by itself, which is a
    failure (exit 1, the reason in one line), and the session keeps the failed attempts for a resume."""
    from test_cli import ipwtui, one_line_error

    with FaultServer() as s:
        s.push(*[Status(400, {"error": {"message": "the prompt is not allowed"}})] * 40)
        out = tmp_path / "s"
        p = ipwtui(tmp_path, "run", "--backend", "openai", "--base-url", s.base_url, "--model", MODEL,
                   "--queries", "quick", "--idle-seconds", "0", "--warmup", "0", "--retries", "0",
                   "--max-failures", "2", "--out", str(out))
    err = one_line_error(p)
    assert p.returncode == 1
    assert err.startswith("ipwtui: error: stopped after 2 queries failed in a row (last: ")
    assert "the prompt is not allowed" in err and f"ipwtui run --resume {out}" in err
    meta = json.loads((out / "session.json").read_text())
    assert meta["status"] == "interrupted" and meta["stop_reason"].startswith("stopped after 2 queries")
    errors = [r for r in map(json.loads, (out / "journal.jsonl").read_text().splitlines())
              if r.get("type") == "query" and r.get("status") == "error"]
    assert len(errors) == 2
