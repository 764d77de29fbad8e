"""The dry run: the exact diff --apply would write for a diagnosis, without writing it.

For the DIAGNOSE renderer: `preview(report, root)` returns the report's problems with
`fix` (rule, site, title, unified diff) or `why_unfixable` filled, and the combined diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from codemod.fixer.annotate import annotate
from codemod.fixer.edits import build_edits, combined_diff
from codemod.fixer.model import FileEdit, Plan
from codemod.fixer.planner import plan_all


@dataclass(frozen=True)
class Preview:
    plan: Plan
    edits: tuple[FileEdit, ...]
    problems: tuple[dict[str, Any], ...]  # annotated copies, paths relative to cwd
    diff: str  # what --apply would write in its first round

    @property
    def fixable(self) -> bool:
        return bool(self.edits) and not self.plan.unfixable


def preview(report: Mapping[str, Any], root: str | Path, cwd: str | Path | None = None) -> Preview:
    """Plan and rewrite in memory; nothing touches the disk."""
    problems = list(report.get("problems") or [])
    the_plan = plan_all(problems, root, report)
    edits, declined = build_edits(the_plan.fixes, cwd=cwd)
    annotated = annotate(problems, the_plan, edits, declined, cwd)
    return Preview(the_plan, tuple(edits), tuple(annotated), combined_diff(edits))


def proposed_diff(report: Mapping[str, Any], root: str | Path, cwd: str | Path | None = None) -> str:
    """Only the diff (\"\" when nothing can be rewritten)."""
    return preview(report, root, cwd).diff


def _absolute(raw: Mapping[str, Any], cwd: str) -> dict[str, Any]:
    """A runtime problem dict with every site's file made absolute again."""
    import copy
    import os

    from codemod.fixer.sites import sites_in

    out = copy.deepcopy(dict(raw))
    for site in sites_in(out):
        if isinstance(site.get("file"), str):
            site["file"] = os.path.normpath(os.path.join(cwd, site["file"]))
    return out


def propose(problem: Any, root: str, cwd: str) -> tuple[Any, str | None]:
    """For codemod.diagnose: one Problem -> (FixProposal, None) or (None, why_unfixable)."""
    from codemod.diagnose import FixProposal

    raw = _absolute(getattr(problem, "raw", problem), cwd)
    result = preview({"problems": [raw]}, root, cwd)
    annotated = result.problems[0]
    fix = annotated.get("fix")
    if not fix or not result.edits:
        return None, annotated.get("why_unfixable") or "no automatic rewrite applies"
    path = str(result.edits[0].path)
    return FixProposal(fix["rule"], fix["file"], path, fix["line"], fix["col"], fix["title"], fix["diff"]), None
