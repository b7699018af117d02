"""Any OpenAI-compatible chat-completions server, local or in the cloud (``--backend openai``).

The model is the name the server serves (``--remote-model``, or the model a run asks for); the server is
``--base-url`` (e.g. ``http://127.0.0.1:8080/v1``); the API key is read from the environment variable
``--api-key-env`` names (default ``OPENAI_API_KEY``) and is never written anywhere. A local server that
needs no key works with the variable unset: no ``Authorization`` header is sent then.

This engine cannot tell whether a served model is the same one from one run to the next: a server's model
name says nothing of its weights, so ``fingerprint`` is None ("cannot tell").

The engine methods take an optional ``settings`` (``RunSettings``) for the base URL, the key variable
and the timeouts: without them there is no server to ask.
"""

from __future__ import annotations

import os

from ..base import REMOTE, BackendError, ModelRef
from ...core.settings import RunSettings
from ...core.settings import spec as setting


def api_key(settings: RunSettings) -> str | None:
    """The key from the environment variable the settings name (None when unset or empty)."""
    return os.environ.get(settings.api_key_env) or None


def _base_url_missing() -> str:
    return f"no server given: set {setting('base_url').flag} (e.g. http://127.0.0.1:8080/v1)"


class OpenAIEngine:
    name = "openai"
    aliases = ("openai-compatible",)
    summary = "an OpenAI-compatible server (llama-server, vLLM, Ollama, LM Studio, cloud APIs) over HTTP"
    where = REMOTE

    def find_models(self, extra_paths=None, extra_dirs=None, settings: RunSettings | None = None
                    ) -> tuple[list[ModelRef], list[str]]:
        """The models the server lists at GET /models (one request, short timeout)."""
        if settings is None or not settings.base_url:
            return [], [_base_url_missing() + " to list the models a server serves"]
        from .backend import PROBE_READ_S, probe
        from .client import Scrubber, display_url, entry_context, entry_id, need_httpx

        scrub = Scrubber(api_key(settings))
        base = settings.base_url.rstrip("/")
        try:
            httpx = need_httpx()
            headers = {"Authorization": f"Bearer {scrub.key}"} if scrub.key else {}
            with httpx.Client(headers=headers) as client:
                entries = probe(client, base, None, scrub, settings.api_key_env, settings.connect_timeout_s,
                                min(settings.read_timeout_s, PROBE_READ_S), require_model=False)
        except BackendError as e:
            return [], [str(e)]
        if entries is None:
            return [], [(f"{display_url(base)} lists no models at /models: give the model's name with "
                         f"{setting('remote_model').flag}")]
        origin = f"listed by {display_url(base)}"
        refs = [ModelRef(name=scrub.text(entry_id(e)), path=None, format="remote", origin=origin,
                         context_length=entry_context(e)) for e in entries]
        return refs, []

    def resolve_model(self, spec: str | None, settings: RunSettings | None = None) -> ModelRef:
        """The served model's name: ``spec``, else ``settings.remote_model``; no name is an error."""
        name = (spec or "").strip() or ((settings.remote_model or "").strip() if settings else "")
        if not name:
            raise BackendError(f"no model name for the openai backend: give the name the server serves with "
                               f"{setting('remote_model').flag} NAME (the server lists them at GET /models)")
        origin = "--model" if (spec or "").strip() else setting("remote_model").flag
        return ModelRef(name=name, path=None, format="remote", origin=origin)

    def fingerprint(self, model: ModelRef) -> str | None:
        return None  # cannot tell: a served name says nothing of the weights behind it

    def create(self, model: ModelRef, settings: RunSettings):
        from .backend import OpenAIBackend

        if not settings.base_url:
            raise BackendError(_base_url_missing())
        return OpenAIBackend(settings.base_url, model.name or settings.remote_model or "", api_key=api_key(settings),
                             key_env=settings.api_key_env, connect_timeout_s=settings.connect_timeout_s,
                             read_timeout_s=settings.read_timeout_s)

    def check(self, settings: RunSettings, model: str | None = None) -> str | None:
        """One small request before a run (GET /models, or a 1-token answer when the server lists none):
        a one-line problem, or None when the server is there and serves the model."""
        return check(settings, model)


def check(settings: RunSettings, model: str | None = None) -> str | None:
    """See ``OpenAIEngine.check``."""
    if not settings.base_url:
        return _base_url_missing()
    from .backend import PROBE_READ_S, probe
    from .client import Scrubber, need_httpx

    name = model or settings.remote_model
    scrub = Scrubber(api_key(settings))
    try:
        httpx = need_httpx()
        headers = {"Authorization": f"Bearer {scrub.key}"} if scrub.key else {}
        with httpx.Client(headers=headers) as client:
            probe(client, settings.base_url.rstrip("/"), name, scrub, settings.api_key_env,
                  settings.connect_timeout_s, min(settings.read_timeout_s, PROBE_READ_S))
    except BackendError as e:
        return scrub.text(str(e))
    return None


ENGINE = OpenAIEngine()
