"""What every rule is made of: its identity, its examples, its findings.

A rule finds with the standard library's `ast` (fast, so `scan` can read whole
repositories) and rewrites with libcst (lossless, so nothing else in the file
moves). Both halves speak in the same positions: 1-based line, 0-based
character column of the node's start, as libcst's `PositionProvider` reports.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # libcst is only needed where a rewrite happens
    import libcst as cst

    from inplace_fix.transforms.context import FileContext
    from inplace_fix.transforms.rewriter import RewriteContext


class FixSafety(str, Enum):
    """Whether a rewrite can change what the program computes."""

    SAFE = "safe"  # never changes forward values or the gradients of the intended program
    UNSAFE = "unsafe"  # can change behaviour when another name aliases the tensor
    NONE = "none"  # flagged only: no automatic rewrite exists


class Confidence(str, Enum):
    """How sure the static evidence is that the operand is a tensor that autograd tracks."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, order=True)
class Position:
    """Start of a node: 1-based line, 0-based character column (libcst convention)."""

    line: int
    col: int


@dataclass(frozen=True, order=True)
class Span:
    """A node's whole extent (start and end, libcst convention), for rewrites that must not
    confuse a node with the larger ones starting at the same place (`a` in `a * b`)."""

    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def start(self) -> Position:
        return Position(self.line, self.col)

    def shifted(self, lines: int) -> "Span":
        return Span(self.line + lines, self.col, self.end_line + lines, self.end_col)


@dataclass(frozen=True, order=True)
class Finding:
    """One in-place site a rule flags. Ordered by path, line, column, code."""

    path: str
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    confidence: Confidence = Confidence.HIGH
    fixable: bool = True
    safety: FixSafety = FixSafety.SAFE
    note: str = ""
    no_fix: str = ""  # why a rewrite is not offered although the rule has one (it would change the result)

    @property
    def position(self) -> Position:
        return Position(self.line, self.col)


@dataclass(frozen=True)
class Example:
    """A rule's own test case: `before` must become `after` exactly.

    `after is None` means the rule must flag `before` but leave its text alone
    (a finding with no automatic rewrite, such as a `.data` write).
    """

    before: str
    after: str | None = None
    unsafe: bool = False  # the rewrite needs --unsafe-fixes


@dataclass(frozen=True)
class RewriteResult:
    """What a rewrite did to one file's source."""

    source: str
    applied: tuple[Position, ...] = field(default=())  # positions rewritten (any rule)
    applied_by_rule: tuple[tuple[str, Position], ...] = field(default=())  # (code, position)
    # the pieces of the file that changed, in order: (first line in the original, old text, new text);
    # the text between them is the original's, byte for byte (a diff of a large file needs only these)
    edits: tuple[tuple[int, str, str], ...] = field(default=())
    # the new text of each top-level statement (or run of simple ones) that changed: the file compiles
    # when each of them compiles on its own under `future_flags` (a large file need not be compiled whole)
    statements: tuple[str, ...] = field(default=())
    future_flags: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.applied)


@dataclass(frozen=True)
class Candidate:
    """A syntactic site a rule could rewrite, before evidence and context are consulted.

    `node` is the stdlib-ast node whose start is the rewrite position; `end` bounds it
    (used by `locate` to pick the innermost node containing a runtime column).
    """

    node: ast.AST
    position: Position
    end: Position
    fixable: bool = True
    note: str = ""


@dataclass(frozen=True)
class FixTarget:
    """For a problem the runtime found: where a rule's rewrite goes, and under which title.

    `site` names the runtime site whose line holds the node (`modified_at`,
    `construction_at`, `alias_at`, ...). A rule may name another rule here: the
    statement is then rewritten by that rule (IPF005 hands `h.data.mul_(0.5)` to IPF002).
    """

    rule: str
    site: str
    title: str


class Rule:
    """A rule is a small class that carries its own metadata and examples.

    Detection (`candidates` + `find`) uses stdlib `ast` through a shared FileContext.
    Rewriting uses hooks that one composite libcst transformer calls during a single
    pass over a single parse (transforms/rewriter.py): `fix_expr` for expression
    nodes of the libcst classes named in `expr_nodes`, `fix_line` for statement-level rewrites.
    `valid` is code the rule must leave alone and not flag; `invalid` is code it must
    flag, each with its exact rewrite.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    explanation: ClassVar[str]
    safety: ClassVar[FixSafety]
    unsafe_when: ClassVar[str] = ""
    bulk_default: ClassVar[bool] = True  # False: opt-in under `scan`/`migrate` (IPF005)
    valid: ClassVar[tuple[str, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()
    # names of the libcst node classes handed to fix_expr (names, not classes: resolved when a
    # rewrite runs, so detection never imports libcst)
    expr_nodes: ClassVar[tuple[str, ...]] = ()
    statement_level: ClassVar[bool] = False  # fix_line is called for lines holding a target
    targets_spans: ClassVar[bool] = False  # targets are Spans (the node's whole extent), not starts
    # What the runtime fixer shows and asks: the fix's title as reports show it, what to
    # change by hand when no rewrite applies, and the problem kinds this rule answers when
    # the runtime names no rule.
    title: ClassVar[str]
    hand_fix: ClassVar[str]
    runtime_kinds: ClassVar[tuple[str, ...]] = ()
    # The rule's page (`inplace-fix rule CODE`, docs/rules/CODE.md): what it finds and why that
    # breaks autograd, a few sentences each; its example is `invalid[doc_example]` (so it is tested).
    finds: ClassVar[str] = ""
    breaks: ClassVar[str] = ""
    doc_example: ClassVar[int] = 0
    # an UNSAFE rule whose findings are marked SAFE where the evidence shows the rewrite changes nothing
    safe_where_shown: ClassVar[bool] = False

    def candidates(self, ctx: "FileContext") -> list[Candidate]:
        """Every syntactic site, ignoring tensor evidence and context (used by `locate`)."""
        raise NotImplementedError

    def find(self, ctx: "FileContext") -> list[Finding]:
        """Flag every site in the file; never raises on odd but valid code."""
        raise NotImplementedError

    def relocate(self, ctx: "FileContext", line: int, col: int | None) -> Position | None:
        """For `locate`: the rewrite site when the runtime's line holds no candidate (the
        write happened through an alias created elsewhere). None by default."""
        return None

    def fix_targets(self, sites: Mapping[str, str]) -> tuple[FixTarget, ...]:
        """For a problem the runtime answered with this rule: where the rewrite goes, best first.

        `sites` maps each runtime site key the problem has (`modified_at`,
        `construction_at`, `alias_at`, `data_at`, ...) to that site's source line. By
        default the rewrite goes where the tensor was modified.
        """
        return (FixTarget(self.code, "modified_at", self.title),)

    def alias_line(self, source: str, line: int, code: str) -> int | None:
        """For the fixer, when nothing at a runtime site (`line`, holding `code`) can be
        rewritten: the line above it that made the value written there (an alias), whose
        node this rule rewrites instead. A looser, textual fallback for `relocate` (which
        `locate` already tried). None by default."""
        return None

    def fix_expr(self, original: "cst.CSTNode", updated: "cst.CSTNode", rc: "RewriteContext") -> "cst.CSTNode | None":
        """Rewrite one targeted expression node; None leaves it alone."""
        return None

    def fix_line(self, original: "cst.CSTNode", updated: "cst.CSTNode", index: int, rc: "RewriteContext") -> "object | None":
        """Rewrite small statement `index` of a targeted line (SimpleStatementLine or
        SimpleStatementSuite). Returns the new line, a FlattenSentinel, a compound
        statement, or None to leave it alone."""
        return None

    def fix_suite(self, original: "cst.CSTNode", updated: "cst.CSTNode", rc: "RewriteContext") -> "cst.CSTNode | None":
        """Rewrite a block (IndentedBlock or Module) after its lines were rewritten, for a rule with
        targets in this chunk: e.g. join neighbouring statements into one new block. None leaves it."""
        return None

    def fix_compound(self, original: "cst.CSTNode", updated: "cst.CSTNode", rc: "RewriteContext") -> "object | None":
        """Rewrite a whole `for` statement that holds a target (after its lines were visited:
        `for row in t: row.div_(k)` -> `t = torch.stack([...])`); None leaves it alone."""
        return None

    def finding(self, ctx: "FileContext", cand: Candidate, *, confidence: Confidence = Confidence.HIGH,
                safety: FixSafety | None = None, note: str = "", fixable: bool | None = None,
                message: str | None = None) -> Finding:
        """Build a Finding for a candidate with this rule's code and message."""
        ok = cand.fixable if fixable is None else fixable
        if ctx.data_pipeline and self.code != "IPF004" and confidence is not Confidence.LOW:
            confidence = Confidence.LOW
            note = "; ".join(x for x in (note, "data-pipeline module") if x)
        return Finding(
            path=ctx.path, line=cand.position.line, col=cand.position.col, code=self.code,
            message=message or self.message, end_line=cand.end.line, end_col=cand.end.col,
            confidence=confidence, fixable=ok,
            safety=(safety or self.safety) if ok else FixSafety.NONE,
            note="; ".join(x for x in (note, cand.note) if x),
        )


def node_position(node: ast.AST, ctx: "FileContext") -> Position:
    """The libcst-style position of an `ast` node (ast columns count UTF-8 bytes)."""
    return ctx.position(node)
