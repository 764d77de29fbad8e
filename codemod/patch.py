"""Unified diffs that `git apply` / `patch -p1` accept: the text of an edit, not its looks."""

from __future__ import annotations

import difflib

__all__ = ["unified_diff"]

NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    """Lines with their own endings (CRLF stays CRLF in the patch, as git writes it)."""
    lines = text.splitlines(keepends=True)
    # splitlines also breaks on \x0c, \x1c, \u2028...; Python and git only on \r, \n.
    merged: list[str] = []
    for line in lines:
        if merged and not merged[-1].endswith(("\n", "\r")):
            merged[-1] += line
        else:
            merged.append(line)
    return merged


def unified_diff(display: str, before: str, after: str, context: int = 3) -> str:
    """The change from `before` to `after` as a git-style unified diff ("" if equal)."""
    if before == after:
        return ""
    out: list[str] = []
    lines = difflib.unified_diff(_lines(before), _lines(after), f"a/{display}", f"b/{display}", n=context)
    for index, line in enumerate(lines):
        if index < 2:  # the ---/+++ header
            out.append(line.rstrip("\r\n") + "\n")
        elif line.endswith(("\n", "\r")):
            out.append(line)
        else:  # the last line of a file with no trailing newline
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)
