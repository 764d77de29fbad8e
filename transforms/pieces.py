"""Cut a top-level statement into the smallest pieces of whole lines that a rewrite needs.

libcst's cost is per node of what it parses (positions, the walk, the code generated back),
so parsing a whole class for one `x += y` in one method is most of a large file's rewrite.
Each target gets the innermost statement around it that still shows the rules all they
look at: the `for` loops around the target (a rule declines to rebind a loop variable and
may rebuild a whole loop), the block a suite hook joins statements in (rules named in
`whole_scope`: the enclosing function), and the comment lines above the statement (they
travel with it when a line is split). The piece is taken off its indentation to parse on
its own, and put back after; anything that would not round-trip byte for byte (a string
literal's lines at the margin, a comment left of the block) moves the cut one statement
out, up to the whole top-level statement. The lines between pieces are copied through.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from inplace_fix.transforms.base import Position, Span
from inplace_fix.transforms.context import nested_bodies

__all__ = ["Piece", "cut", "reindent"]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_LOOPS = (ast.For, ast.AsyncFor)


@dataclass(frozen=True)
class Piece:
    """Whole lines of the file from `first_line`; `code` is `text` with `indent` taken off each line."""

    first_line: int
    text: str
    indent: str = ""
    code: str = ""
    targets: Mapping[str, tuple[Position | Span, ...]] | None = None  # None: lines copied through

    @property
    def col_offset(self) -> int:
        return len(self.indent)


def cut(first_line: int, text: str, node: ast.stmt, targets: Mapping[str, Collection[Position | Span]],
        whole_scope: Collection[str] = ()) -> list[Piece] | None:
    """The chunk `text` (top-level statement `node`, from file line `first_line`) as pieces in
    order, or None when some target needs the whole statement (parse it whole)."""
    lines = text.splitlines(keepends=True)
    if "\r" in text or not lines:
        return None
    chosen: dict[int, tuple[int, int, str]] = {}  # first line -> (first line, last line, indent)
    for code, positions in targets.items():
        for target in positions:
            span = _piece_for(node, target.line, code in whole_scope, lines, first_line)
            if span is None:
                return None
            chosen[span[0]] = span
    spans = _outermost(sorted(chosen.values()))
    if spans is None:
        return None
    by_span: list[dict[str, list[Position | Span]]] = [{} for _ in spans]
    firsts = [s[0] for s in spans]
    for code, positions in targets.items():
        for target in positions:
            by_span[bisect_right(firsts, target.line) - 1].setdefault(code, []).append(target)
    pieces: list[Piece] = []
    line = first_line
    for (start, end, indent), found in zip(spans, by_span):
        if start > line:
            pieces.append(Piece(line, "".join(lines[line - first_line:start - first_line])))
        piece_lines = lines[start - first_line:end - first_line + 1]
        code = "".join(raw[len(indent):] if raw != "\n" else raw for raw in piece_lines)
        pieces.append(Piece(start, "".join(piece_lines), indent, code,
                            {c: tuple(ps) for c, ps in sorted(found.items())}))
        line = end + 1
    if line < first_line + len(lines):
        pieces.append(Piece(line, "".join(lines[line - first_line:])))
    return pieces


def reindent(code: str, indent: str) -> str:
    """Put `indent` back in front of every line but the empty ones (the inverse of the cut)."""
    if not indent:
        return code
    return "".join(line if line == "\n" else indent + line for line in code.splitlines(keepends=True))


def _piece_for(node: ast.stmt, line: int, whole_scope: bool, lines: list[str],
               first_line: int) -> tuple[int, int, str] | None:
    """(first, last line, indent) of the innermost statement around `line` that may stand alone."""
    path = _path(node, line)  # [(statement, its siblings, its index)], outermost first
    deepest = len(path) - 1
    loops = [depth for depth, (stmt, _s, _i) in enumerate(path) if isinstance(stmt, _LOOPS)]
    if loops:  # every loop around the target stays in the piece
        deepest = min(deepest, loops[0])
    if whole_scope:  # the function around the target stays whole (at module level: the chunk)
        scopes = [depth for depth, (stmt, _s, _i) in enumerate(path) if isinstance(stmt, _SCOPES)]
        deepest = min(deepest, scopes[-1] if scopes else 0)
    for depth in range(deepest, 0, -1):  # depth 0 is the whole chunk
        stmt, siblings, index = path[depth]
        span = _standalone(stmt, siblings, index, path[depth - 1][0], lines, first_line)
        if span is not None:
            return span
    return None


def _path(node: ast.stmt, line: int) -> list[tuple[ast.stmt, list[ast.stmt], int]]:
    """The statements from `node` down to the innermost one whose lines hold `line`."""
    path: list[tuple[ast.stmt, list[ast.stmt], int]] = [(node, [node], 0)]
    current = node
    while True:
        t = type(current)
        bodies = (current.body,) if t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) \
            else nested_bodies(current, t)
        for body in bodies:
            index = bisect_right([_first(s) for s in body], line) - 1
            if index >= 0 and line <= (body[index].end_lineno or body[index].lineno):
                current = body[index]
                path.append((current, body, index))
                break
        else:
            return path


def _standalone(stmt: ast.stmt, siblings: list[ast.stmt], index: int, parent: ast.stmt,
                lines: list[str], first_line: int) -> tuple[int, int, str] | None:
    """The statement's lines with the comment and blank lines above it, when they round-trip."""
    start, end = _first(stmt), stmt.end_lineno or stmt.lineno
    if index > 0 and (siblings[index - 1].end_lineno or 0) >= start:
        return None  # `a = 1; b = 2`: shares its line
    if index + 1 < len(siblings) and _first(siblings[index + 1]) <= end:
        return None
    head = lines[start - first_line]
    indent = head[:len(head) - len(head.lstrip(" \t"))]
    if not indent or len(indent.encode()) != _first_col(stmt) or start == parent.lineno:
        return None  # `if c: x += 1`, or text before the statement on its line
    if lines[start - first_line].lstrip().startswith("elif"):
        return None  # the `if` of an `elif` clause: its text does not stand alone
    bound = (siblings[index - 1].end_lineno or 0) if index > 0 else _header_end(parent, siblings)
    while start - 1 > bound and _blank_or_comment(lines[start - 1 - first_line]):
        start -= 1  # comments above a statement belong to it (libcst's leading lines)
    if _continued(lines, start - 1 - first_line) or _continued(lines, end - first_line):
        return None  # a backslash joins the line above into it, or it into the line below
    for raw in lines[start - first_line:end - first_line + 1]:
        if raw != "\n" and not (raw.startswith(indent) and raw[len(indent):].strip()):
            return None  # a line at the margin (string literal, comment): cutting would change it
    return start, end, indent


_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases", "decorator_list"})


def _header_end(parent: ast.stmt, block: list[ast.stmt]) -> int:
    """The last line of the header above `block` (a multi-line signature or condition ends below
    the statement's first line, and a string in it may hold lines that look like comments)."""
    end = parent.lineno
    owner = next((part for part in (*getattr(parent, "handlers", ()), *getattr(parent, "cases", ()))
                  if part.body is block), parent if block is getattr(parent, "body", None) else None)
    if owner is not None:  # the statement's own header, or an `except ...:`/`case ...:` clause's
        end = max(end, getattr(owner, "lineno", end))
        for name, value in ast.iter_fields(owner):
            if name in _BLOCKS:
                continue
            for node in value if isinstance(value, list) else [value]:
                if isinstance(node, ast.AST) and hasattr(node, "end_lineno"):
                    end = max(end, node.end_lineno or end)
                elif isinstance(node, ast.AST):  # `arguments`, `withitem`: no position of their own
                    end = max([end] + [n.end_lineno or end for n in ast.walk(node) if hasattr(n, "end_lineno")])
    return end


def _continued(lines: list[str], index: int) -> bool:
    """Does line `index` (0-based in the chunk) end with a backslash that continues it?"""
    return 0 <= index < len(lines) and lines[index].rstrip("\r\n").endswith("\\")


def _blank_or_comment(raw: str) -> bool:
    stripped = raw.strip()
    return not stripped or stripped.startswith("#")


def _first(stmt: ast.stmt) -> int:
    """A statement's first line, decorators included."""
    decorators = getattr(stmt, "decorator_list", ())
    return min([stmt.lineno] + [d.lineno for d in decorators]) if decorators else stmt.lineno


def _first_col(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", ())
    return decorators[0].col_offset - 1 if decorators else stmt.col_offset  # `@` stands before the expression


def _outermost(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]] | None:
    """Sorted statement spans without those inside another; None if two overlap otherwise."""
    out: list[tuple[int, int, str]] = []
    for span in spans:
        if out and span[0] <= out[-1][1]:
            if span[1] > out[-1][1]:
                return None
            continue
        out.append(span)
    return out
