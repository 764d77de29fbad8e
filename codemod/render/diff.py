"""Unified diffs that `git apply` / `patch -p1` accept, colored only on a terminal."""

from __future__ import annotations

import difflib

from codemod.console import Console

__all__ = ["unified_diff", "colorize"]

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


def colorize(diff: str, console: Console) -> str:
    """Color a diff for a terminal; the text is unchanged when color is off."""
    if not console.color or not diff:
        return diff
    out: list[str] = []
    for line in diff.splitlines(keepends=True):
        body, end = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")):]
        if line.startswith(("---", "+++")):
            out.append(console.style(body, bold=True) + end)
        elif line.startswith("@@"):
            out.append(console.style(body, fg="cyan") + end)
        elif line.startswith("+"):
            out.append(console.style(body, fg="green") + end)
        elif line.startswith("-"):
            out.append(console.style(body, fg="red") + end)
        else:
            out.append(line)
    return "".join(out)
