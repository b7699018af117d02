"""Query sets and scoring."""
