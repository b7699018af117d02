"""Inference backends. Each one implements ``ipwtui.backends.base.Backend``."""
