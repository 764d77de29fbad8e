"""The fixer's values: frozen, so a plan or an outcome can be passed around and compared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PlannedFix:
    """One rewrite: rule `rule` on the node that starts at (line, col) of `file`."""

    problem: int  # index of the problem in the report it came from
    rule: str
    file: Path
    line: int
    col: int
    title: str
    site: str  # which runtime site the node was located from: modified_at, construction_at, ...
    strategy: str = ""  # out-of-place | inplace-flag | config-literal | alias | no-grad | detach | clone-at-save
    end_line: int | None = None  # the node's end, for rewrites that target whole spans
    end_col: int | None = None

    @property
    def kind(self) -> str:
        """The strategy, or the one implied by where the node was found."""
        return self.strategy or strategy_for(self.rule, self.site)


def strategy_for(rule: str, site: str) -> str:
    """How a rewrite fixes its problem, in the words the report and the benchmark use."""
    if rule == "IPF004":
        return "config-literal" if site == "config_literal" else "inplace-flag"
    if site == "alias_search":
        return "alias"
    return {"IPF005": "detach", "IPF008": "no-grad", "clone-saved": "clone-at-save"}.get(rule, "out-of-place")


@dataclass(frozen=True)
class Unfixable:
    """A problem no local rewrite fixes: `why` says what to change by hand."""

    problem: int
    why: str


@dataclass(frozen=True)
class Plan:
    """Everything the planner decided for one round, in problem order."""

    fixes: tuple[PlannedFix, ...] = ()  # one per fixable problem: the first candidate that located
    unfixable: tuple[Unfixable, ...] = ()
    # every further candidate that located, in the planner's order (same `problem` index as
    # the fix it could replace), so a caller can try another rewrite without planning again
    alternatives: tuple[PlannedFix, ...] = ()

    def for_problem(self, index: int) -> PlannedFix | Unfixable | None:
        for item in (*self.fixes, *self.unfixable):
            if item.problem == index:
                return item
        return None


@dataclass(frozen=True)
class FileEdit:
    """The new text of one file, the exact bytes it will be written as, and its diff."""

    path: Path
    display: str  # the path as shown to the user (relative to cwd when under it)
    before: str
    after: str
    data: bytes  # `after` encoded like the original (encoding, BOM)
    diff: str
    fixes: tuple[PlannedFix, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Whether a fixed run proves the fix, and the one line a user can trust."""

    verified: bool
    status: str  # fixed | not-verified
    why: str  # the reason in words (shown when not verified; a note otherwise)
    values_compared: bool = True
    method: str = "reference"  # reference | leaf-gradient | finite-difference
