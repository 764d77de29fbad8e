"""Fill each problem's `fix` and `why_unfixable` (DESIGN.md report fields) from a plan."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

from codemod.fixer.model import FileEdit, Plan, PlannedFix, Unfixable
from codemod.fixer.sites import display, sites_in


def relativize(problem: Mapping[str, Any], cwd: str | Path | None = None) -> dict[str, Any]:
    """A copy of the problem with every site's file relative to cwd when under it."""
    out = copy.deepcopy(dict(problem))
    for site in sites_in(out):
        if site.get("file"):
            site["file"] = display(site["file"], cwd)
    return out


def fix_field(fix: PlannedFix, edits: Sequence[FileEdit], cwd: str | Path | None = None) -> dict[str, Any]:
    diff = next((edit.diff for edit in edits if edit.path == fix.file), "")
    return {"rule": fix.rule, "file": display(fix.file, cwd), "line": fix.line, "col": fix.col,
            "title": fix.title, "site": fix.site, "diff": diff}


def annotate(problems: Sequence[Mapping[str, Any]], plan: Plan, edits: Sequence[FileEdit],
             declined: Sequence[PlannedFix] = (), cwd: str | Path | None = None) -> list[dict[str, Any]]:
    """The problems as the report shows them, each with its fix or its hand-fix advice."""
    out = []
    for index, problem in enumerate(problems):
        item = relativize(problem, cwd)
        decision = plan.for_problem(index)
        if isinstance(decision, PlannedFix) and decision in declined:
            item["fix"] = None
            item["why_unfixable"] = (f"the {decision.rule} rewrite declined the node at "
                                     f"{display(decision.file, cwd)}:{decision.line}:{decision.col + 1}; "
                                     "change it by hand")
        elif isinstance(decision, PlannedFix):
            item["fix"] = fix_field(decision, edits, cwd)
            item["why_unfixable"] = None
        elif isinstance(decision, Unfixable):
            item["fix"] = None
            item["why_unfixable"] = decision.why
        out.append(item)
    return out
