"""What the journal of a run that died had left, and what became of it, one line per file."""

from __future__ import annotations

from collections.abc import Sequence

from inplace_fix.journal import Recovered
from inplace_fix.paths import display_path

__all__ = ["recovery_lines"]


# Recovered.command -> (the run, what it left unfinished, what it had finished writing)
_WORDS = {
    "": ("a run", "an unverified edit", "its verified fix"),
    "migrate --apply": ("a `migrate --apply`", "its migration half-written", "every file of its migration"),
}


def recovery_lines(recovered: Sequence[Recovered], cwd: str | None = None) -> list[str]:
    """Sentences for stderr; a file the dead run never changed needs none."""
    lines = []
    for item in recovered:
        shown = display_path(item.path, cwd)
        who, left, finished = _WORDS.get(item.command, _WORDS[""])
        run = f"{who} that did not finish (pid {item.pid}, started {item.started})"
        if item.action == "restored":
            lines.append(f"inplace-fix: restored {shown} to its original bytes: {run} had left {left}")
        elif item.action == "kept-fix":
            lines.append(f"inplace-fix: kept {shown}: {run} had finished writing {finished}")
        elif item.action == "changed-since":
            copy = display_path(item.kept_copy, cwd) if item.kept_copy else "?"
            lines.append(f"inplace-fix: left {shown} as it is: it changed after {run} wrote it; "
                         f"the original bytes are in {copy}")
    return lines
