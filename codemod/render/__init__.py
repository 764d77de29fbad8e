"""Rendering for people and machines: the diagnosis, the --apply outcome, diffs, findings, summaries."""
