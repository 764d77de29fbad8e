"""Plans -> file edits: the new text, the exact bytes to write, the diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from inplace_fix.fileio import SourceFile, encode, read_source
from inplace_fix.fixer.model import FileEdit, PlannedFix
from inplace_fix.paths import display_path
from inplace_fix.patch import unified_diff

# rewrite(source, {code: [Position]}) -> RewriteResult(source, applied)
Rewrite = Callable[[str, Mapping[str, Any]], Any]


class EditError(Exception):
    """A planned rewrite that did not happen (the rule declined the node)."""


def _default_rewrite() -> Rewrite:
    from inplace_fix.transforms.api import rewrite

    return rewrite


def targets(fixes: Sequence[PlannedFix]) -> dict[Path, dict[str, list[Any]]]:
    """Per file, per rule, the distinct node positions to rewrite (sorted, no duplicates)."""
    from inplace_fix.transforms.base import Position, Span

    out: dict[Path, dict[str, list[Any]]] = {}
    for fix in fixes:
        per_rule = out.setdefault(fix.file, {}).setdefault(fix.rule, [])
        position = (Span(fix.line, fix.col, fix.end_line, fix.end_col)
                    if fix.end_line is not None and fix.end_col is not None else Position(fix.line, fix.col))
        if position not in per_rule:
            per_rule.append(position)
    for per_rule in out.values():
        for positions in per_rule.values():
            positions.sort()
    return dict(sorted(out.items()))


def build_edits(fixes: Sequence[PlannedFix], rewrite: Rewrite | None = None,
                cwd: str | Path | None = None,
                read: Callable[[Path], SourceFile] = read_source) -> tuple[list[FileEdit], list[PlannedFix]]:
    """The edit of every file the fixes touch, and the fixes the rules declined.

    One parse and one rewrite pass per file, so every position refers to the text the
    runtime ran (`read` gives that text: the disk's, or --apply's edited version). A
    file whose rewrite leaves the text unchanged yields no edit.
    """
    rewrite = rewrite or _default_rewrite()
    edits: list[FileEdit] = []
    declined: list[PlannedFix] = []
    for path, per_rule in targets(fixes).items():
        source = read(path)
        result = rewrite(source.text, per_rule)
        applied = set(getattr(result, "applied", ()) or ())
        mine = tuple(fix for fix in fixes if fix.file == path)
        if applied:
            declined.extend(fix for fix in mine if (fix.line, fix.col) not in
                            {(p.line, p.col) for p in applied})
        after = result.source if hasattr(result, "source") else str(result)
        if after == source.text:
            declined.extend(fix for fix in mine if fix not in declined)
            continue
        shown = display_path(path, cwd)
        edits.append(FileEdit(path=path, display=shown, before=source.text, after=after,
                              data=encode(source, after), diff=unified_diff(shown, source.text, after),
                              fixes=tuple(fix for fix in mine if fix not in declined)))
    return edits, declined


def combined_diff(edits: Sequence[FileEdit]) -> str:
    """Every file's diff, in path order: what --apply would write."""
    return "".join(edit.diff for edit in sorted(edits, key=lambda e: e.display))
