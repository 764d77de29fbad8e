"""The --apply outcome as text: round by round, then the one line a user can trust."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from inplace_fix.console import Console
from inplace_fix.fixer.outcome import Outcome
from inplace_fix.paths import display_path
from inplace_fix.render.diff import colorize
from inplace_fix.report import Attempt, Site

__all__ = ["render_outcome"]


def _site(site: Site | None, cwd: str) -> str:
    if site is None:
        return "-"
    where = f"{site.file(cwd)}:{site.line}" + (f":{site.col + 1}" if site.col is not None else "")
    code = site.code.strip()
    return f"{where}: {code}" if code else where


def render_outcome(outcome: Outcome, console: Console) -> str:
    """Round by round: what was found, what was written, what the re-run showed; then one line."""
    cwd = outcome.cwd
    lines: list[str] = []
    for record in outcome.rounds:
        noun = "problem" if len(record.problems) == 1 else "problems"
        lines.append(console.style(f"round {record.number}: {len(record.problems)} {noun}", bold=True))
        for problem in record.problems:
            lines.append(f"  {problem.kind}: {problem.error or 'no error from torch'}")
            lines.append(f"    modified at {_site(problem.modified_at, cwd)}")
            if problem.construction_at:
                lines.append(f"    built at    {_site(problem.construction_at, cwd)}")
            lines.append(f"    saved at    {_site(problem.saved_at, cwd)}")
            fix = problem.fix
            if fix:
                lines.append(f"    fix {fix.rule} at {display_path(fix.path, cwd)}:{fix.line}:{fix.col + 1}: "
                             f"{fix.title}")
            elif problem.why_unfixable:
                lines.append(f"    no automatic fix: {problem.why_unfixable}")
            lines.extend(_tried(problem.attempts, cwd))
        diffs = "".join(dict.fromkeys(p.fix.diff for p in record.problems if p.fix))
        if diffs:
            lines.append(colorize(diffs, console).rstrip("\n"))
        if record.verification:
            lines.append(_rerun_line(record.verification))
    if outcome.restored:
        lines.append("restored: " + ", ".join(outcome.restored))
    style = {"fg": "green"} if outcome.status in ("fixed", "clean") else {"fg": "red"}
    lines.append(console.style(outcome.summary, bold=True, **style))
    return "\n".join(lines) + "\n"


def _tried(attempts: Sequence[Attempt], cwd: str) -> list[str]:
    """The candidates behind the fix: shown once more than one existed or one was turned down."""
    if len(attempts) < 2 and all(a.status in ("verified", "kept") for a in attempts):
        return []
    out = ["    candidates:"]
    for number, attempt in enumerate(attempts, start=1):
        where = f"{display_path(attempt.path, cwd)}:{attempt.line}"
        reason = f": {attempt.why}" if attempt.why else ""
        out.append(f"      {number}. {attempt.status} {attempt.strategy} ({attempt.rule} at {where}){reason}")
    return out


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
