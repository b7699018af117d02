"""A scripted stand-in model for demos and tests, labelled ``fake`` everywhere."""

from __future__ import annotations

from ..base import LOCAL, ModelRef
from ...core.settings import RunSettings


class FakeEngine:
    name = "fake"
    aliases: tuple[str, ...] = ()
    summary = "a scripted stand-in model for demos and tests (not a real model)"
    where = LOCAL

    def find_models(self, extra_paths=None, extra_dirs=None, settings=None):
        return [self.resolve_model(None)], []

    def resolve_model(self, spec: str | None, settings: RunSettings | None = None) -> ModelRef:
        return ModelRef(name="fake-model", path=None, format="fake", origin="fake backend")

    def check(self, settings: RunSettings, model: str | None = None) -> str | None:
        return None

    def fingerprint(self, model: ModelRef) -> str | None:
        return None

    def create(self, model: ModelRef, settings: RunSettings):
        from .backend import FakeBackend

        return FakeBackend()


ENGINE = FakeEngine()
