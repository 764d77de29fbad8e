"""A unified diff colored for a terminal; the text is unchanged when color is off."""

from __future__ import annotations

from inplace_fix.console import Console

__all__ = ["colorize"]


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
