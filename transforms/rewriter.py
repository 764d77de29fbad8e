"""One libcst pass that applies every targeted rewrite of every rule.

Positions refer to the original text, so all rules must act during the same
traversal of the same parse: each rule contributes hooks (`fix_expr` for
expression nodes, `fix_line` for statement lines) and this transformer calls
them where a target position falls. Nothing outside a targeted node changes,
so the rest of the file stays byte-identical.
"""

from __future__ import annotations

import ast
import gc
import re
from dataclasses import dataclass
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Collection, Mapping

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from inplace_fix.transforms.base import Position, Rule, Span
from inplace_fix.transforms.pieces import Piece, cut, reindent


class RewriteContext:
    """What a rule's hook may ask while rewriting: positions and the file's torch alias."""

    def __init__(self, transformer: "_Composite", module: cst.Module, torch: str | None) -> None:
        self._t = transformer
        self.module = module
        self._torch = torch
        self.hits: frozenset[Position] = frozenset()  # targets inside the line being rewritten
        self.loops: list[cst.For] = []  # the `for` statements around the node being rewritten, outermost first
        self.source = ""  # the whole file (the module above is one chunk of it)
        self.first_line = 1  # the file's line of the chunk's first line
        self.first_col = 0  # the indentation taken off every line of the chunk (a method cut out of its class)
        self.stores: set[int] = set()  # ids of original nodes that are assignment/del targets
        self._module_code: str | None = None

    @property
    def module_code(self) -> str:
        """The chunk's original text, generated once (hooks that look for a fresh name ask per target)."""
        if self._module_code is None:
            self._module_code = self.module.code
        return self._module_code

    def is_store(self, original: cst.CSTNode) -> bool:
        """Is this node written to (`a.data = t`, `a.data[i] = v`, `a.data += v`, `del a.data`)?"""
        return id(original) in self.stores

    def pos(self, original: cst.CSTNode) -> Position:
        start = self._t.positions[original].start
        return Position(start.line, start.column)

    def span(self, original: cst.CSTNode) -> Span:
        rng = self._t.positions[original]
        return Span(rng.start.line, rng.start.column, rng.end.line, rng.end.column)

    def targeted(self, original: cst.CSTNode) -> bool:
        """Is this original node's start one of the positions being rewritten in this line?"""
        return self.pos(original) in self.hits

    def file_position(self, original: cst.CSTNode) -> Position:
        """The node's start in the whole file (`pos` counts lines from the chunk's start)."""
        pos = self.pos(original)
        return Position(pos.line + self.first_line - 1, pos.col + self.first_col)

    def torch(self) -> str | None:
        """Local name of the torch module, None if the file does not import it."""
        return self._torch


class _Composite(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, rules: list[tuple[Rule, frozenset[Position]]], module: cst.Module,
                 torch: str | None) -> None:
        super().__init__()
        self.positions: Mapping[cst.CSTNode, CodeRange] = {}  # set by `_visit` before the walk
        self.rc = RewriteContext(self, module, torch)
        self.applied: set[tuple[str, Position]] = set()
        self.expr_rules: dict[type, list[tuple[Rule, frozenset[Position]]]] = defaultdict(list)
        self.line_rules: list[tuple[Rule, frozenset[Position], frozenset[int]]] = []
        for rule, targets in rules:
            for name in rule.expr_nodes:
                self.expr_rules[getattr(cst, name)].append((rule, targets))
            if rule.statement_level:
                self.line_rules.append((rule, targets, frozenset(p.line for p in targets)))
        self.target_lines = sorted({p.line for _rule, targets in rules for p in targets})

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Statements with no target on any of their lines are not walked into: a hook fires only
        where a target starts, so their nodes would all be left as they are (most of a chunk)."""
        walk = super().on_visit(node)  # the visit_ hooks run either way: their leave_ pairs always run
        if isinstance(node, (cst.BaseCompoundStatement, cst.SimpleStatementLine)) and not self._holds_target(node):
            return False
        return walk

    def _holds_target(self, node: cst.CSTNode) -> bool:
        rng = self.positions[node]
        first = rng.start.line
        for decorator in getattr(node, "decorators", ()):  # a def's or class's position starts after them
            first = min(first, self.positions[decorator].start.line)
        lines = self.target_lines
        i = bisect_left(lines, first)
        return i != len(lines) and lines[i] <= rng.end.line

    # -- store targets (so expression rules never rewrite an assignment target) --
    def _store(self, target: cst.CSTNode) -> None:
        self.rc.stores.add(id(target))
        if isinstance(target, cst.Subscript):
            self.rc.stores.add(id(target.value))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._store(el.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._store(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._store(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._store(node.target)
        self.rc.loops.append(node)

    def leave_For(self, original: cst.For, updated: cst.For) -> object:
        """A rule may rewrite a whole loop that holds one of its targets (`fix_compound`)."""
        self.rc.loops.pop()
        rng = self.positions[original]
        start, end = Position(rng.start.line, rng.start.column), Position(rng.end.line, rng.end.column)
        for rule, targets, _lines in self.line_rules:
            hits = [p for p in targets if start <= p < end]
            if not hits:
                continue
            self.rc.hits = frozenset(hits)
            new = rule.fix_compound(original, updated, self.rc)
            if new is not None:
                self.applied.update((rule.code, p) for p in hits)
                return new
        return updated

    # -- expression hooks ---------------------------------------------------
    def _expr(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
        rules = self.expr_rules.get(type(original))
        if not rules:
            return updated
        pos = span = None
        for rule, targets in rules:
            if rule.targets_spans:
                span = span or self.rc.span(original)
                hit = span in targets
            else:
                pos = pos or self.rc.pos(original)
                hit = pos in targets
            if hit:
                new = rule.fix_expr(original, updated, self.rc)
                if new is not None:
                    updated = new
                    self.applied.add((rule.code, span.start if rule.targets_spans else pos))
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        return self._expr(original, updated)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        return self._expr(original, updated)

    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.BaseExpression:
        return self._expr(original, updated)

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self._expr(original, updated)

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        return self._expr(original, updated)

    def leave_BinaryOperation(self, original: cst.BinaryOperation,
                              updated: cst.BinaryOperation) -> cst.BaseExpression:
        return self._expr(original, updated)

    # -- statement hooks ----------------------------------------------------
    def _line(self, original: cst.CSTNode, updated: cst.CSTNode) -> object:
        if not self.line_rules:
            return updated
        first = self.positions[original]
        lines = range(first.start.line, first.end.line + 1)
        result: object = updated
        for rule, targets, target_lines in self.line_rules:
            if not any(ln in target_lines for ln in lines):
                continue
            for index, small in enumerate(original.body):
                rng = self.positions[small]
                start = Position(rng.start.line, rng.start.column)
                end = Position(rng.end.line, rng.end.column)
                hits = [p for p in targets if start <= p < end or p == start]
                if not hits:
                    continue
                if not isinstance(result, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                    return result  # an earlier rule restructured the line: one rewrite per line
                self.rc.hits = frozenset(hits)
                new = rule.fix_line(original, result, index, self.rc)
                if new is not None:
                    result = new
                    self.applied.update((rule.code, p) for p in hits)
        return result

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine):
        return self._line(original, updated)

    def leave_SimpleStatementSuite(self, original: cst.SimpleStatementSuite, updated: cst.SimpleStatementSuite):
        return self._line(original, updated)

    # -- suite hooks (after every line of the block is rewritten) ----------------
    def _suite(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
        for rule, _targets, _lines in self.line_rules:
            new = rule.fix_suite(original, updated, self.rc)
            if new is not None:
                updated = new
        return updated

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        return self._suite(original, updated)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        return self._suite(original, updated)


@dataclass(frozen=True)
class Rewritten:
    """The new source, the (rule, position) pairs applied, and what changed (see RewriteResult)."""

    source: str
    applied: tuple[tuple[str, Position], ...]
    edits: tuple[tuple[int, str, str], ...]
    statements: tuple[str, ...]
    future_flags: int


def apply_rewrites(source: str, plan: Mapping[str, Collection[Position]], rules: Mapping[str, Rule]) -> Rewritten:
    """Rewrite every targeted node in one traversal.

    Only the top-level statements that hold a target are parsed with libcst (positions
    and parse cost grow with the file, the edits do not): the file is cut at the first
    line of each top-level statement, which always yields chunks that parse on their
    own, and the untouched chunks are copied through byte for byte. `edits` are the
    pieces that changed: (first line, old text, new text); `statements` the changed chunks.
    """
    targets = {code: frozenset(ps) for code, ps in plan.items() if ps}
    tree = _parse(source)
    chunks = _chunks(source, tree) if tree is not None else None
    if chunks is None:  # not parseable by ast: let libcst parse the whole file (and raise)
        chunks = [(1, source)]
    torch = _torch_alias(source, tree)
    by_chunk = _by_chunk(targets, [first for first, _ in chunks])
    out: list[str] = []
    applied: list[tuple[str, Position]] = []
    edits: list[tuple[int, str, str]] = []
    statements: list[str] = []
    compound = _compound_statements(tree) if len(chunks) > 1 and CUT_STATEMENTS else {}
    whole_scope = {code for code, rule in rules.items()
                   if rule.targets_spans or type(rule).fix_suite is not Rule.fix_suite}
    for index, (first_line, text) in enumerate(chunks):
        local = by_chunk.get(index)
        if not local:
            out.append(text)
            continue
        whole = [Piece(first_line, text, "", text, {code: tuple(ps) for code, ps in local.items()})]
        node = compound.get(first_line)
        pieces = cut(first_line, text, node, local, whole_scope) if node is not None else None
        indent_unit = _indent_unit(text, source, len(chunks) > 1)
        try:
            chunk_out, chunk_edits, done = _rewrite_chunk(pieces or whole, rules, torch, source, text, indent_unit)
        except (cst.ParserSyntaxError, _WholeChunk):
            if not pieces:
                raise
            # a cut libcst could not parse alone (the checks above missed a shape): parse it whole
            chunk_out, chunk_edits, done = _rewrite_chunk(whole, rules, torch, source, text, indent_unit)
        edits.extend(chunk_edits)
        applied.extend(done)
        new_chunk = "".join(chunk_out)
        out.append(new_chunk)
        if new_chunk != text:
            statements.append(new_chunk)
    return Rewritten("".join(out), tuple(sorted(set(applied), key=lambda a: (a[1], a[0]))), tuple(edits),
                     tuple(statements), _future_flags(tree))


CUT_STATEMENTS = True  # False parses every chunk with a target whole (the tests compare both ways)


class _WholeChunk(Exception):
    """A cut piece that would not rewrite as the whole chunk does: parse the chunk whole."""


def _rewrite_chunk(pieces: list[Piece], rules: Mapping[str, Rule], torch: str | None, source: str, chunk: str,
                   indent_unit: str | None) -> tuple[list[str], list[tuple[int, str, str]], list[tuple[str, Position]]]:
    """Each piece's new text (the others as they are), the edits, and what was applied."""
    out: list[str] = []
    edits: list[tuple[int, str, str]] = []
    applied: list[tuple[str, Position]] = []
    for piece in pieces:
        if piece.targets is None:
            out.append(piece.text)
            continue
        new_text, done = _rewrite_piece(piece, rules, torch, source, chunk, indent_unit)
        out.append(new_text)
        if new_text != piece.text:
            edits.append((piece.first_line, piece.text, new_text))
        applied.extend(done)
    return out, edits, applied


def _rewrite_piece(piece: Piece, rules: Mapping[str, Rule], torch: str | None, source: str, chunk: str,
                   indent_unit: str | None) -> tuple[str, list[tuple[str, Position]]]:
    """Parse one piece with libcst, apply its targets; its new text and what was applied (file positions)."""
    lines, cols = 1 - piece.first_line, -piece.col_offset
    local = {code: frozenset(_shift(p, lines, cols) for p in ps) for code, ps in (piece.targets or {}).items()}
    with _collector_paused():
        module = cst.parse_module(piece.code)
        if piece.indent and module.header and module.body:  # comments above the statement are its own
            first = module.body[0]    # in the block it came from, not a file header
            module = module.with_changes(header=(), body=[
                first.with_changes(leading_lines=[*module.header, *first.leading_lines]), *module.body[1:]])
        if indent_unit and not _INDENTED.search(piece.code):
            module = module.with_changes(default_indent=indent_unit)  # blocks it makes: the chunk's unit
        elif piece.indent and indent_unit and module.default_indent != indent_unit:
            raise _WholeChunk  # its own blocks use another unit than the chunk's: new ones would differ
        ordered = [(rules[code], local[code]) for code in sorted(local)]
        composite = _Composite(ordered, module, torch)
        composite.rc.source, composite.rc.first_line, composite.rc.first_col = source, piece.first_line, piece.col_offset
        composite.rc._module_code = chunk  # fresh names avoid every name of the top-level statement
        new_code = _visit(module, composite).code
    if not composite.applied or new_code == piece.code:
        return piece.text, []  # nothing applied: nothing to change, even where libcst would not round-trip
    new_text = reindent(new_code, piece.indent)
    return new_text, [(c, Position(p.line - lines, p.col - cols)) for c, p in composite.applied]


def _future_flags(tree: ast.Module | None) -> int:
    """The compiler flags of the file's `from __future__ import ...` statements."""
    import __future__

    flags = 0
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                flags |= getattr(feature, "compiler_flag", 0)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            break  # future imports stand before any other statement (a docstring aside)
    return flags


def _compound_statements(tree: ast.Module | None) -> dict[int, ast.stmt]:
    """First line (decorators included) -> top-level compound statement: each is a chunk of its own."""
    out: dict[int, ast.stmt] = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, _COMPOUND):
            out[min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])] = node
    return out


def _indent_unit(chunk: str, source: str, cut_file: bool) -> str | None:
    """The indentation unit generated blocks use: the chunk's own (libcst's inference for the whole
    chunk: its first indented block), else the file's for a chunk with no block of its own."""
    if _INDENTED.search(chunk):
        return _first_indent(chunk)
    return _file_indent(source) if cut_file else None


def _first_indent(chunk: str) -> str | None:
    """The whitespace of the chunk's first INDENT token (a top-level chunk starts at column 0)."""
    import io
    import tokenize

    try:
        for token in tokenize.generate_tokens(io.StringIO(chunk).readline):
            if token.type == tokenize.INDENT:
                return token.string
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def _visit(module: cst.Module, composite: "_Composite") -> cst.Module:
    """`MetadataWrapper(module).visit(composite)` without its costs: the wrapper walks the whole
    tree once more for batchable providers even when there are none, and every `get_metadata`
    call checks the visitor's declared dependencies; the hooks read positions from a dict."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    try:
        positions = PositionProvider()._gen(wrapper)  # the provider alone (its resolver adds the extra walk)
    except AttributeError:  # a libcst whose providers lack this hook: the public way
        positions = wrapper.resolve(PositionProvider)
    composite.positions = positions
    composite.metadata = {PositionProvider: positions}
    return module.visit(composite)


def _by_chunk(targets: Mapping[str, frozenset[Position | Span]],
              starts: list[int]) -> dict[int, dict[str, list[Position | Span]]]:
    """chunk index -> rule code -> the targets whose line falls in that chunk (one bisect per target)."""
    out: dict[int, dict[str, list[Position | Span]]] = {}
    for code, positions in targets.items():
        for p in positions:
            index = bisect_right(starts, p.line) - 1
            if index >= 0:
                out.setdefault(index, {}).setdefault(code, []).append(p)
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing and visiting a chunk allocates hundreds of thousands of nodes that live until the
    chunk is done: the cyclic collector would re-scan every live object many times over (a third
    of a large file's rewrite time) and finds nothing, so it waits until the chunk is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(source: str) -> ast.Module | None:
    from inplace_fix.transforms.context import parse

    try:
        return parse(source)
    except (SyntaxError, ValueError):
        return None


def _shift(target: Position | Span, lines: int, cols: int = 0) -> Position | Span:
    """A target moved by `lines` and `cols` (into a piece's own numbering, or back)."""
    if isinstance(target, Span):
        return Span(target.line + lines, target.col + cols, target.end_line + lines, target.end_col + cols)
    return Position(target.line + lines, target.col + cols)


_COMPOUND = tuple(getattr(ast, name) for name in (
    "FunctionDef", "AsyncFunctionDef", "ClassDef", "If", "For", "AsyncFor", "While", "With", "AsyncWith",
    "Try", "TryStar", "Match") if hasattr(ast, name))
_INDENTED = re.compile(r"^[ \t]+\S", re.M)


def _file_indent(source: str) -> str | None:
    """The indentation unit of the first indented block in the file (as libcst would infer)."""
    m = re.search(r"^([ \t]*)[^\s#].*:[ \t]*(?:#.*)?\r?\n(?:[ \t]*(?:#.*)?\r?\n)*([ \t]+)\S", source, re.M)
    if not m or not m.group(2).startswith(m.group(1)):
        return None
    unit = m.group(2)[len(m.group(1)):]
    return unit or None


def _chunks(source: str, tree: ast.Module | None = None) -> list[tuple[int, str]] | None:
    """Split at the first line (decorators included) of each top-level compound statement and of
    each run of top-level simple statements (a suite hook sees the whole run)."""
    tree = tree if tree is not None else _parse(source)
    if tree is None:
        return None
    starts = []
    previous_simple = False
    for node in tree.body:
        simple = not isinstance(node, _COMPOUND)
        if not (simple and previous_simple):  # a run of simple statements is one chunk (one suite)
            starts.append(min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]))
        previous_simple = simple
    lines = source.splitlines(keepends=True) if "\r" not in source else None
    if lines is None or len(lines) != source.count("\n") + (0 if source.endswith("\n") or not source else 1):
        return [(1, source)]  # unusual line breaks: do not cut
    bounds = sorted(set([1] + [s for s in starts if s > 1]))
    out = []
    for i, b in enumerate(bounds):
        end = bounds[i + 1] - 1 if i + 1 < len(bounds) else len(lines)
        out.append((b, "".join(lines[b - 1:end])))
    return out


def _torch_alias(source: str, tree: ast.Module | None = None) -> str | None:
    """The name bound to the torch module by a top-level import (for generated code)."""
    from inplace_fix.transforms.context import FileContext

    try:
        ctx = FileContext.build(source) if tree is None else FileContext.imports_only(source, tree)
        return ctx.torch_name()
    except (SyntaxError, ValueError):
        return None
