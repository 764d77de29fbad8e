"""The SARIF `fixes` of a scan: for each finding whose rewrite is safe, the text that replaces which lines.

A scan rewrites nothing, so the safe findings of a file are rewritten here, in memory, by
the same `transforms.api.rewrite` that `migrate` runs, all in one pass; each changed block of
lines goes to the one finding on its lines (whole lines: one replacement per fix, easy for a
viewer to apply). A block that holds several findings (a run of leaf updates wrapped in one
`no_grad`) is rewritten again for each of them alone, at most `ALONE_MAX` times per file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.fileio import SourceError, decode, read_source
from inplace_fix.lint import FileResult
from inplace_fix.transforms.base import Finding, FixSafety

__all__ = ["Replacement", "SafeFix", "fix_key", "line_replacement", "safe_fixes"]

FixKey = tuple[str, int, int, str]
ALONE_MAX = 20  # findings per file rewritten one by one (each is a rewrite of the file)


@dataclass(frozen=True)
class Replacement:
    """Replace the text from (start_line, start_col) up to (end_line, end_col), 1-based, end exclusive."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int
    text: str


@dataclass(frozen=True)
class SafeFix:
    description: str
    replacement: Replacement


def fix_key(f: Finding) -> FixKey:
    return (f.path, f.line, f.col, f.code)


def line_replacement(old: str, new: str) -> Replacement | None:
    """The smallest run of whole lines of `old` whose replacement gives `new` (None: no change).

    Both sides hold at least one line, so a pure insertion or deletion takes a neighbouring
    line along; the last line's line break stays outside the region.
    """
    if old == new:
        return None
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    if head == len(a) - tail or head == len(b) - tail:  # one side is empty: take a neighbour line
        if tail:
            tail -= 1
        else:
            head -= 1
    last = a[len(a) - tail - 1]
    body = last.rstrip("\r\n")
    ending = last[len(body):]
    inserted = "".join(b[head:len(b) - tail])
    if ending and inserted.endswith(ending):
        inserted = inserted[:-len(ending)]
    return Replacement(head + 1, 1, len(a) - tail, len(body) + 1, inserted)


def _to_replacement(a: list[str], b: list[str], lo: int, hi: int, jlo: int, jhi: int) -> Replacement:
    """Old lines [lo, hi) become new lines [jlo, jhi) (both sides widened to at least one line)."""
    if lo == hi or jlo == jhi:
        if hi < len(a) and jhi < len(b):
            hi, jhi = hi + 1, jhi + 1
        else:
            lo, jlo = lo - 1, jlo - 1
    last = a[hi - 1]
    body = last.rstrip("\r\n")
    ending = last[len(body):]
    inserted = "".join(b[jlo:jhi])
    if ending and inserted.endswith(ending):
        inserted = inserted[:-len(ending)]
    return Replacement(lo + 1, 1, hi, len(body) + 1, inserted)


def _blocks(old: str, new: str, findings: Sequence[Finding]) -> tuple[dict[FixKey, Replacement], list[Finding]]:
    """The changes of one rewrite of all `findings`, per finding; and the findings whose change
    could not be told apart (a block on the lines of several findings, or none)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    owned: dict[int, list[tuple[int, int, int, int]]] = {}
    unclear: set[int] = set()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        first, last = i1 + 1, max(i2, i1 + 1)  # 1-based lines; an insertion belongs to the line after it
        holders = [k for k, f in enumerate(findings) if first <= f.line <= last
                   or (f.end_line and f.line <= first <= f.end_line)]
        if len(holders) == 1:
            owned.setdefault(holders[0], []).append((i1, i2, j1, j2))
        else:
            unclear.update(holders)
    changes = {}
    for k, spans in owned.items():
        if k in unclear:
            continue
        changes[fix_key(findings[k])] = _to_replacement(a, b, min(s[0] for s in spans), max(s[1] for s in spans),
                                                         min(s[2] for s in spans), max(s[3] for s in spans))
    return changes, [findings[k] for k in sorted(unclear)]


def _safe(f: Finding) -> bool:
    return f.fixable and f.safety is FixSafety.SAFE and not f.no_fix


def safe_fixes(results: Sequence[FileResult], sources: Mapping[str, bytes] | None = None) -> dict[FixKey, SafeFix]:
    """Per safe finding, its fix; `sources` gives the bytes of a file that is not on disk (stdin)."""
    from inplace_fix.transforms.api import rewrite
    from inplace_fix.transforms.registry import get_rule

    fixes: dict[FixKey, SafeFix] = {}
    for result in results:
        wanted = [f for f in result.findings if _safe(f)]
        if not wanted or result.error or Path(result.display).suffix == ".ipynb":  # cells: no file lines
            continue
        try:
            if sources is not None and result.display in sources:
                text = decode(sources[result.display], result.display)[0]
            else:
                text = read_source(result.path).text
        except SourceError:
            continue
        targets: dict[str, set] = {}
        for f in wanted:
            targets.setdefault(f.code, set()).add(f.position)
        try:
            new = rewrite(text, {code: frozenset(spots) for code, spots in targets.items()}).source
        except Exception:  # a rewrite that fails here fails in migrate too, which reports it
            continue
        changes, alone = _blocks(text, new, wanted)
        for f in alone[:ALONE_MAX]:
            try:
                change = line_replacement(text, rewrite(text, {f.code: frozenset({f.position})}).source)
            except Exception:
                continue
            if change is not None:
                changes[fix_key(f)] = change
        for f in wanted:
            if fix_key(f) in changes:
                fixes[fix_key(f)] = SafeFix(get_rule(f.code).title, changes[fix_key(f)])
    return fixes
