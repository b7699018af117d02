"""A scripted stand-in model for demos and tests, labelled ``fake`` everywhere."""

from __future__ import annotations

from ..base import LOCAL, ModelRef
from ...core.settings import RunSettings


class FakeEngine:
    name = "fake"
    aliases: tuple[str, ...] = ()
    summary = "a scripted stand-in model for demos and tests (not a real model)"
    where = LOCAL

    def find_models(self, extra_paths=None, extra_dirs=None):
        return [self.resolve_model(None)], []

    def resolve_model(self, spec: str | None) -> ModelRef:
        return ModelRef(name="fake-model", path=None, format="fake", origin="fake backend")

    def fingerprint(self, model: ModelRef) -> str | None:
        return None

    def create(self, model: ModelRef, settings: RunSettings):
        from .backend import FakeBackend

        return FakeBackend()


ENGINE = FakeEngine()
