"""Fill each problem's fix (or the reason there is none) from a round's plan, its candidates and edits."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from inplace_fix.fixer.candidates import Choices
from inplace_fix.fixer.model import FileEdit, Plan, PlannedFix, Unfixable
from inplace_fix.report import Fix, Problem


def fix_of(planned: PlannedFix, edits: Sequence[FileEdit]) -> Fix:
    diff = next((edit.diff for edit in edits if edit.path == planned.file), "")
    return Fix(planned.rule, str(planned.file), planned.line, planned.col, planned.title, diff, planned.site,
               planned.kind)


def annotate(problems: Sequence[Problem], plan: Plan, choices: Choices, edits: Sequence[FileEdit],
             cwd: str | Path | None = None, final: bool = True) -> list[Problem]:
    """The problems as the report shows them: the candidate in use with its diff, or the
    hand-fix advice (the planner's, or why every candidate was declined or refuted), and
    every candidate (`final=False` before any run: the one in use is `proposed`)."""
    chosen = choices.chosen()
    out = []
    for index, problem in enumerate(problems):
        decision = plan.for_problem(index)
        if index in chosen:
            problem = problem.with_fix(fix_of(chosen[index], edits))
        elif index in choices.candidates:
            problem = problem.with_fix(None, choices.why_none(index, cwd))
        elif isinstance(decision, Unfixable):
            problem = problem.with_fix(None, decision.why)
        out.append(problem.with_attempts(choices.attempts(index, final=final)))
    return out
