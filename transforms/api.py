"""The rules' public API: analyze (ast), rewrite (libcst), locate (runtime sites).

The engine (`scan`, `migrate`, the runtime fixer) calls only these three functions.
They never import torch and never apply `# inplace-fix: ignore` comments (the
engine does, so a suppressed site stays visible to `--show-suppressed`-style tools).
"""

from __future__ import annotations

from typing import Collection, Mapping

from inplace_fix.transforms.base import Candidate, Finding, Position, RewriteResult, Span
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.registry import ALL_RULES, get_rule


def _rules(select: Collection[str] | None):
    if select is None:
        return ALL_RULES
    wanted = {c.upper() for c in select}
    return tuple(r for r in ALL_RULES if r.code in wanted)


def analyze(source: str, path: str = "", select: Collection[str] | None = None) -> list[Finding]:
    """Every finding of the selected rules (all by default), sorted by (line, col, code).

    One stdlib-ast parse and one walk shared by all rules. Raises SyntaxError if the
    source does not parse.
    """
    rules = _rules(select)
    ctx = FileContext.build(source, path)
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(rule.find(ctx))
    findings.sort(key=lambda f: (f.line, f.col, f.code, f.end_line, f.end_col))
    return findings


def rewrite(source: str, targets: Mapping[str, Collection[Position]]) -> RewriteResult:
    """Rewrite only the nodes of each rule `code` starting at the given positions.

    All rules act in one pass over one libcst parse, so positions refer to the
    original text; everything else stays byte-identical. Raises
    libcst.ParserSyntaxError if the source does not parse (not raised when there is
    nothing to rewrite: the source is returned as is).
    """
    plan = {get_rule(code).code: [p if isinstance(p, (Position, Span)) else Position(*p) for p in positions]
            for code, positions in targets.items() if positions}
    if not plan:
        return RewriteResult(source=source)
    rules = {code: get_rule(code) for code in plan}
    from inplace_fix.transforms.rewriter import apply_rewrites  # imports libcst: only when something is rewritten

    done = apply_rewrites(source, plan, rules)
    return RewriteResult(
        source=done.source,
        applied=tuple(sorted({p for _, p in done.applied})),
        applied_by_rule=done.applied,
        edits=done.edits,
        statements=done.statements,
        future_flags=done.future_flags,
    )


def locate(source: str, code: str, line: int, col: int | None = None) -> Position | None:
    """The start of the node rule `code` would rewrite for a runtime site at (line, col).

    Ignores tensor evidence and context (the runtime proved the op happened). Among
    the rule's syntactic sites covering `line`, prefer those starting on it; then the
    innermost whose range contains `col`; else the only one; else the first on the line.
    """
    rule = get_rule(code)
    ctx = FileContext.build(source)
    cands = [c for c in rule.candidates(ctx) if c.position.line <= line <= c.end.line]
    if not cands:
        return rule.relocate(ctx, line, col)
    on_line = [c for c in cands if c.position.line == line]
    pool = on_line or cands
    if col is not None:
        containing = [c for c in pool if _contains(c, line, col)]
        if containing:
            best = min(containing, key=_span)
            return best.position
    if len(pool) == 1:
        return pool[0].position
    if col is not None:
        # the runtime's column may point at the statement start: take the nearest node after it
        after = sorted((c for c in pool if c.position.line == line and c.position.col >= col),
                       key=lambda c: c.position.col)
        if after:
            return after[0].position
    return min(pool, key=lambda c: (c.position, _span(c))).position


def _contains(c: Candidate, line: int, col: int) -> bool:
    return c.position <= Position(line, col) < c.end or (
        c.position.line < line < c.end.line)


def _span(c: Candidate) -> tuple[int, int]:
    return (c.end.line - c.position.line, c.end.col - c.position.col)
