"""The --apply outcome as DESIGN.md's JSON report (plus `rounds`) and as human text."""

from __future__ import annotations

from typing import Any

from codemod import __version__
from codemod.console import Console
from codemod.fixer.apply import Outcome
from codemod.fixer.model import RoundRecord
from codemod.render.diff import colorize


def _round(record: RoundRecord) -> dict[str, Any]:
    return {
        "round": record.number,
        "status": record.status,
        "problems": list(record.problems),
        "files": list(record.files),
        "verification": record.verification,
    }


def to_json(outcome: Outcome, script: str) -> dict[str, Any]:
    """DESIGN.md's report: tool, version, script, status, problems (with fix), verification,
    extended with `rounds` (one entry per round), `files_changed`, `restored` and `summary`."""
    verification = dict(outcome.verification) if outcome.verification else None
    if verification is not None and outcome.verdict is not None:
        verification["method"] = outcome.verdict.method
        verification["values_compared"] = outcome.verdict.values_compared
        verification["verified"] = outcome.verdict.verified
        verification["note"] = outcome.verdict.why
    if verification is not None:
        verification.setdefault("verified", outcome.status == "fixed")
    problems = list(outcome.problems)
    if not problems and outcome.first_report:
        problems = list(outcome.first_report.get("problems") or [])
    return {
        "tool": "inplace-fix",
        "version": __version__,
        "script": script,
        "status": outcome.status,
        "problems": problems,
        "verification": verification,
        "rounds": [_round(r) for r in outcome.rounds],
        "files_changed": list(outcome.files),
        "restored": list(outcome.restored),
        "why": outcome.why or None,
        "summary": outcome.summary,
        "script_error": outcome.script_error,
    }


def _site(site: dict[str, Any] | None) -> str:
    if not site:
        return "-"
    col = site.get("col")
    where = f"{site.get('file')}:{site.get('line')}" + (f":{col + 1}" if isinstance(col, int) else "")
    code = (site.get("code") or "").strip()
    return f"{where}: {code}" if code else where


def render_text(outcome: Outcome, console: Console) -> str:
    """Round by round: what was found, what was written, what the re-run showed; then one line."""
    lines: list[str] = []
    for record in outcome.rounds:
        noun = "problem" if len(record.problems) == 1 else "problems"
        lines.append(console.style(f"round {record.number}: {len(record.problems)} {noun}", bold=True))
        for problem in record.problems:
            lines.append(f"  {problem.get('kind', 'problem')}: {problem.get('error') or 'no error from torch'}")
            lines.append(f"    modified at {_site(problem.get('modified_at'))}")
            if problem.get("construction_at"):
                lines.append(f"    built at    {_site(problem.get('construction_at'))}")
            lines.append(f"    saved at    {_site(problem.get('saved_at'))}")
            fix = problem.get("fix")
            if fix:
                lines.append(f"    fix {fix['rule']} at {fix['file']}:{fix['line']}:{fix['col'] + 1}: {fix['title']}")
            elif problem.get("why_unfixable"):
                lines.append(f"    no automatic fix: {problem['why_unfixable']}")
        diffs = "".join(dict.fromkeys(p["fix"]["diff"] for p in record.problems if p.get("fix")))
        if diffs:
            lines.append(colorize(diffs, console).rstrip("\n"))
        if record.verification:
            v = record.verification
            lines.append(f"  re-run: backward {'passes' if v.get('backward_ok') else 'fails'}, "
                         f"{v.get('backward_calls')} backward calls, losses equal: {v.get('losses_equal')}, "
                         f"gradients equal: {v.get('grads_equal')} (max diff {v.get('max_grad_diff')})")
    if outcome.restored:
        lines.append("restored: " + ", ".join(outcome.restored))
    style = {"fg": "green"} if outcome.status in ("fixed", "clean") else {"fg": "red"}
    lines.append(console.style(outcome.summary, bold=True, **style))
    return "\n".join(lines) + "\n"
