"""The Textual app of ipwtui (imports Textual; the core never does)."""
