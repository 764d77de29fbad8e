"""Which candidate fix each problem uses now, and what became of those already tried.

The planner lists every rewrite that answers a problem, most idiomatic first (the write
made out of place, the module's flag dropped, ...; cloning at the saving site last).
`--apply` uses the first of each; when the re-run refutes it, the next one is tried, up
to `max_runs` verification runs per problem. A rule that declines its node costs no run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from inplace_fix.fileio import SourceFile, read_source
from inplace_fix.fixer.edits import build_edits
from inplace_fix.fixer.model import FileEdit, Plan, PlannedFix
from inplace_fix.paths import display_path
from inplace_fix.report import Attempt

DEFAULT_MAX_CANDIDATES = 3


class Choices:
    """Per problem: its candidates in order, the one in use, and the outcome of each tried."""

    def __init__(self, plan: Plan, max_runs: int = DEFAULT_MAX_CANDIDATES) -> None:
        self.max_runs = max(1, max_runs)
        self.candidates: dict[int, list[PlannedFix]] = {fix.problem: [fix] for fix in plan.fixes}
        for alternative in plan.alternatives:
            self.candidates.setdefault(alternative.problem, []).append(alternative)
        self.current: dict[int, int] = {index: 0 for index in self.candidates}
        self.outcomes: dict[int, list[tuple[PlannedFix, str, str]]] = {index: [] for index in self.candidates}
        self.runs: dict[int, int] = {index: 0 for index in self.candidates}

    def chosen(self) -> dict[int, PlannedFix]:
        """The candidate each problem uses now (problems with none left are absent)."""
        return {index: fixes[self.current[index]] for index, fixes in self.candidates.items()
                if self.current[index] < len(fixes)}

    def exhausted(self) -> list[int]:
        return [index for index in self.candidates if index not in self.chosen()]

    def decline(self, fix: PlannedFix, why: str) -> None:
        """The rule left the node alone: note it and move on (no run was spent)."""
        self._advance(fix.problem, "declined", why)

    def reject(self, index: int, why: str) -> None:
        """The re-run refuted the problem's candidate: note why and move to the next."""
        self.runs[index] += 1
        self._advance(index, "rejected", why)

    def has_next(self, index: int) -> bool:
        """Another candidate exists and one more run stays within `max_runs`."""
        return (self.current.get(index, 0) + 1 < len(self.candidates.get(index, ()))
                and self.runs.get(index, 0) + 1 < self.max_runs)

    def accept(self, status: str = "verified") -> None:
        """The re-run accepted every candidate in use: `verified`, or `kept` when it went on to
        find another problem (the next round decides)."""
        for index, fix in self.chosen().items():
            self.runs[index] += 1
            self.outcomes[index].append((fix, status, ""))

    def retryable(self, indexes: Sequence[int]) -> int | None:
        """The first of `indexes` that has another candidate within budget."""
        return next((index for index in indexes if self.has_next(index)), None)

    def attempts(self, index: int, final: bool = True) -> tuple[Attempt, ...]:
        """Every candidate of a problem for the report: those tried with their outcome, the rest
        `untried` (or, before any run, the one in use `proposed`)."""
        done = self.outcomes.get(index, [])
        out = [_attempt(fix, status, why) for fix, status, why in done]
        tried = len(done)
        for position, fix in enumerate(self.candidates.get(index, [])[tried:], start=tried):
            status = "proposed" if not final and position == self.current[index] else "untried"
            out.append(_attempt(fix, status, ""))
        return tuple(out)

    def why_none(self, index: int, cwd: str | Path | None) -> str:
        """One sentence for a problem whose every candidate was declined or refuted."""
        parts = [f"{fix.kind} ({fix.rule} at {display_path(fix.file, cwd)}:{fix.line}): {why}"
                 for fix, _status, why in self.outcomes.get(index, [])]
        if len(parts) == 1:
            return f"{parts[0]}; change it by hand"
        return "no candidate fix applies: " + "; ".join(parts) + "; change it by hand"

    def _advance(self, index: int, status: str, why: str) -> None:
        fixes = self.candidates.get(index, [])
        if self.current[index] < len(fixes):
            self.outcomes[index].append((fixes[self.current[index]], status, why))
            self.current[index] += 1


def _attempt(fix: PlannedFix, status: str, why: str) -> Attempt:
    return Attempt(fix.rule, str(fix.file), fix.line, fix.col, fix.title, fix.kind, status, why)


def declined_why(fix: PlannedFix, cwd: str | Path | None) -> str:
    where = f"{display_path(fix.file, cwd)}:{fix.line}:{fix.col + 1}"
    return f"the {fix.rule} rewrite declined the node at {where}"


def edits_for(choices: Choices, rewrite: Callable[..., Any] | None, cwd: str | Path | None,
              read: Callable[[Path], SourceFile] = read_source) -> list[FileEdit]:
    """The edits of every problem's current candidate; a declined one gives way to the next."""
    while True:
        chosen = choices.chosen()
        edits, declined = build_edits([chosen[index] for index in sorted(chosen)], rewrite=rewrite, cwd=cwd,
                                      read=read)
        if not declined:
            return edits
        for fix in declined:
            choices.decline(fix, declined_why(fix, cwd))
