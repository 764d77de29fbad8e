"""Fill each problem's fix (or the reason there is none) from a round's plan and edits."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from inplace_fix.fixer.model import FileEdit, Plan, PlannedFix, Unfixable
from inplace_fix.paths import display_path
from inplace_fix.report import Fix, Problem


def fix_of(planned: PlannedFix, edits: Sequence[FileEdit]) -> Fix:
    diff = next((edit.diff for edit in edits if edit.path == planned.file), "")
    return Fix(planned.rule, str(planned.file), planned.line, planned.col, planned.title, diff, planned.site,
               planned.kind)


def annotate(problems: Sequence[Problem], plan: Plan, edits: Sequence[FileEdit],
             declined: Sequence[PlannedFix] = (), cwd: str | Path | None = None) -> list[Problem]:
    """The problems as the report shows them, each with its fix or its hand-fix advice."""
    out = []
    for index, problem in enumerate(problems):
        decision = plan.for_problem(index)
        if isinstance(decision, PlannedFix) and decision in declined:
            where = f"{display_path(decision.file, cwd)}:{decision.line}:{decision.col + 1}"
            problem = problem.with_fix(None, f"the {decision.rule} rewrite declined the node at {where}; "
                                             "change it by hand")
        elif isinstance(decision, PlannedFix):
            problem = problem.with_fix(fix_of(decision, edits))
        elif isinstance(decision, Unfixable):
            problem = problem.with_fix(None, decision.why)
        out.append(problem)
    return out
