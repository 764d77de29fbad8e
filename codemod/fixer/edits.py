"""Plans -> file edits (text, bytes, diff); atomic writes with a byte-for-byte rollback journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from inplace_fix.fileio import SourceFile, encode, read_source, restore, write_atomic
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
                cwd: str | Path | None = None) -> tuple[list[FileEdit], list[PlannedFix]]:
    """The edit of every file the fixes touch, and the fixes the rules declined.

    One parse and one rewrite pass per file, so every position refers to the text the
    runtime ran. A file whose rewrite leaves the text unchanged yields no edit.
    """
    rewrite = rewrite or _default_rewrite()
    edits: list[FileEdit] = []
    declined: list[PlannedFix] = []
    for path, per_rule in targets(fixes).items():
        source = read_source(path)
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


class Journal:
    """The original bytes of every file written, so a failed fix is undone exactly.

    A file is captured the first time it is written (later rounds rewrite an already
    edited file; rollback goes back to what the user had, not to round 1's output).
    """

    def __init__(self) -> None:
        self._originals: dict[Path, SourceFile] = {}
        self._attempt: dict[Path, SourceFile] = {}  # each file as it was before the current attempt

    @property
    def files(self) -> list[Path]:
        return sorted(self._originals)

    def begin_attempt(self) -> None:
        """What is written from here on can be undone alone (a candidate that did not verify)."""
        self._attempt = {}

    def write(self, edit: FileEdit) -> None:
        if edit.path not in self._originals:
            self._originals[edit.path] = read_source(edit.path)
        if edit.path not in self._attempt:
            self._attempt[edit.path] = read_source(edit.path)
        write_atomic(edit.path, edit.data, self._originals[edit.path].mode)

    def undo_attempt(self) -> None:
        """Put back every file written since `begin_attempt`, byte for byte (earlier rounds stay)."""
        for _path, before in sorted(self._attempt.items()):
            restore(before)
        self._attempt = {}

    def rollback(self) -> list[Path]:
        """Restore every written file byte for byte; returns the files restored."""
        restored = []
        for path, original in sorted(self._originals.items()):
            restore(original)
            restored.append(path)
        self._originals.clear()
        self._attempt = {}
        return restored

    def changed(self) -> list[Path]:
        """Files whose bytes now differ from the originals (a file edited back is unchanged)."""
        out = []
        for path, original in sorted(self._originals.items()):
            try:
                now = path.read_bytes()
            except OSError:
                now = None
            if now != original.data:
                out.append(path)
        return out
