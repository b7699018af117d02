"""Measurement core. Never imports Textual: the app and the headless command are both clients of it."""
