"""What every rule is made of: its identity, its examples, its findings.

A rule finds with the standard library's `ast` (fast, so `scan` can read whole
repositories) and rewrites with libcst (lossless, so nothing else in the file
moves). Both halves speak in the same positions: 1-based line, 0-based
character column of the node's start, as libcst's `PositionProvider` reports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # libcst is only needed where a rewrite happens
    import libcst as cst

    from transforms.context import FileContext


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
    applied: tuple[Position, ...] = field(default=())


class Rule:
    """A rule is a small class that carries its own metadata and examples.

    Subclasses set the class attributes and implement `find` (stdlib `ast`)
    and `transformer` (libcst). `valid` is code the rule must leave alone and
    not flag; `invalid` is code it must flag, each with its exact rewrite.
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

    def find(self, ctx: "FileContext") -> list[Finding]:
        """Flag every site in the file; never raises on odd but valid code."""
        raise NotImplementedError

    def transformer(self, targets: frozenset[Position]) -> "cst.CSTTransformer":
        """A libcst transformer that rewrites only the nodes starting at `targets`."""
        raise NotImplementedError


def node_position(node: ast.AST, ctx: "FileContext") -> Position:
    """The libcst-style position of an `ast` node (ast columns count UTF-8 bytes)."""
    return ctx.position(node)
