"""Rendering of results for people and machines: diffs (diff.py) and findings (findings.py)."""
