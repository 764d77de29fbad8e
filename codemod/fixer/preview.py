"""The dry run: the exact diff --apply would write for a diagnosis, without writing it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from inplace_fix.fixer.annotate import annotate
from inplace_fix.fixer.candidates import Choices, edits_for
from inplace_fix.fixer.edits import combined_diff
from inplace_fix.fixer.model import FileEdit, Plan, Unfixable
from inplace_fix.fixer.planner import plan_all
from inplace_fix.report import Problem, Report


@dataclass(frozen=True)
class Preview:
    plan: Plan
    edits: tuple[FileEdit, ...]
    problems: tuple[Problem, ...]  # each with its fix or why_unfixable
    diff: str  # what --apply would write in its first round

    @property
    def fixable(self) -> bool:
        return bool(self.edits) and not self.plan.unfixable


def preview(problems: Sequence[Problem], root: str | Path, cwd: str | Path | None = None,
            report: Report | None = None) -> Preview:
    """Plan and rewrite in memory; nothing touches the disk.

    Each problem shows the first candidate its rule does not decline (what --apply tries
    first) and lists the others, which --apply tries in turn if the first does not verify.
    """
    the_plan = plan_all(problems, root, report)
    choices = Choices(the_plan)
    edits = edits_for(choices, None, cwd)
    annotated = annotate(problems, the_plan, choices, edits, cwd, final=False)
    chosen = choices.chosen()
    fixable_plan = Plan(tuple(chosen[i] for i in sorted(chosen)),
                        the_plan.unfixable + tuple(Unfixable(i, choices.why_none(i, cwd)) for i in choices.exhausted()),
                        the_plan.alternatives)
    return Preview(fixable_plan, tuple(edits), tuple(annotated), combined_diff(edits))


def propose_each(problems: Sequence[Problem], root: str | Path, cwd: str | Path | None = None) -> tuple[Problem, ...]:
    """Every problem with its own proposed fix: each diff shows that problem's rewrite alone."""
    out = []
    for problem in problems:
        try:
            out.append(preview([problem], root, cwd).problems[0])
        except Exception as exc:  # noqa: BLE001 - a planner or rule bug must not hide the diagnosis
            out.append(problem.with_fix(None, f"no automatic fix could be planned ({type(exc).__name__}: {exc})"))
    return tuple(out)
