"""The --apply outcome as DESIGN.md's JSON report (plus `rounds`) and as human text."""

from __future__ import annotations

from typing import Any, Mapping

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
            lines.append(_rerun_line(record.verification))
    if outcome.restored:
        lines.append("restored: " + ", ".join(outcome.restored))
    style = {"fg": "green"} if outcome.status in ("fixed", "clean") else {"fg": "red"}
    lines.append(console.style(outcome.summary, bold=True, **style))
    return "\n".join(lines) + "\n"


def _rerun_line(v: Mapping[str, Any]) -> str:
    """What the verifier's re-run showed, in one line (where the comparison first diverged)."""
    losses = f"losses equal: {v.get('losses_equal')}"
    if v.get("first_loss_diff_call"):
        losses += f" (first differs at backward call {v['first_loss_diff_call']})"
    grads = f"gradients equal: {v.get('grads_equal')}"
    if v.get("first_grad_diff_call"):
        grads += f" (first differ at backward call {v['first_grad_diff_call']})"
    line = (f"  re-run: backward {'passes' if v.get('backward_ok') else 'fails'}, {v.get('backward_calls')} "
            f"backward calls, {losses}, {grads}, max diff {v.get('max_grad_diff')}")
    fd = v.get("fd_check")
    if isinstance(fd, Mapping):
        if fd.get("available") is False:
            line += f"; finite-difference check not available: {fd.get('why')}"
        elif "rel_err" in fd:
            line += (f"; float64 finite-difference check {'agrees' if fd.get('ok') else 'disagrees'}"
                     f" (rel err {fd['rel_err']:.3g})")
    return line
