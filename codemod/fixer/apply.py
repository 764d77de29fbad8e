"""`--apply`: diagnose (recording the reference), rewrite, re-run under the verifier, repeat.

Round 1's diagnosis run doubles as the reference run (`--clone-on-write --record`), so
--apply costs one extra run per round. Whatever is not verified is rolled back byte
for byte; the outcome says why.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from codemod.exit_codes import ExitCode
from codemod.fileio import SourceError
from codemod.fixer import runtime_client
from codemod.fixer.annotate import annotate, relativize
from codemod.fixer.edits import Journal, build_edits
from codemod.fixer.model import RoundRecord, Verdict
from codemod.fixer.planner import plan_all as make_plan
from codemod.diagnose import Request
from codemod.fixer.runtime_client import RunResult
from codemod.fixer.sites import display
from codemod.fixer.verdict import is_silent_problem, judge, summary_line

Runner = Callable[..., RunResult]

SILENT_ADVICE = (
    "the `.data` write is part of the forward pass (its result is read again), so making it visible "
    "to autograd (e.g. `h = h * 0.5`) changes the gradients from the original's; `.data` may also be "
    "a deliberate straight-through trick: decide by hand"
)


@dataclass(frozen=True)
class Outcome:
    """Everything --apply did, enough for the JSON report and the human text."""

    status: str  # clean | fixed | unfixable | not-verified | script-error | timeout
    exit_code: int
    problems: tuple[dict[str, Any], ...] = ()
    rounds: tuple[RoundRecord, ...] = ()
    verification: dict[str, Any] | None = None
    verdict: Verdict | None = None
    files: tuple[str, ...] = ()  # files left changed (only when fixed)
    restored: tuple[str, ...] = ()  # files rolled back
    summary: str = ""
    why: str = ""
    first_report: dict[str, Any] | None = None
    script_error: dict[str, Any] | None = None
    output: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _signature(problem: Mapping[str, Any]) -> tuple[str, ...]:
    """A problem by what the code says (line numbers move when a rewrite inserts a line)."""
    def text(key: str) -> str:
        site = problem.get(key) or {}
        return f"{site.get('file')}|{(site.get('code') or '').strip()}"

    return (str(problem.get("kind")), str(problem.get("rule")), text("modified_at"), text("saved_at"))


def default_root(target: Request, cwd: Path) -> Path:
    """The project root: --root, else (as codemod.diagnose decides) the git top-level or the script's folder."""
    if target.root:
        return Path(cwd, target.root).resolve()
    from codemod.diagnose import find_root

    if target.script:
        return Path(find_root((cwd / target.script).resolve().parent))
    return Path(find_root(cwd))


def _script_failed(report: Mapping[str, Any] | None, result: RunResult) -> Outcome:
    if result.timed_out:
        return Outcome("timeout", ExitCode.SCRIPT_FAILED, first_report=report, output=result.output,
                       why="the script timed out", summary="not fixed: the script timed out")
    error = (report or {}).get("script_error")
    why = (f"the script failed: {error.get('type')}: {error.get('message')}" if error
           else f"the runtime wrote no report (exit {result.returncode})")
    return Outcome("script-error", ExitCode.SCRIPT_FAILED, first_report=report, script_error=error,
                   output=result.output, why=why, summary=f"not fixed: {why}")


def apply_fix(target: Request, *, max_rounds: int = 5, cwd: str | Path | None = None,
              runner: Runner | None = None, planner: Callable[..., Any] | None = None,
              rewrite: Callable[..., Any] | None = None, echo: bool = False) -> Outcome:
    """Diagnose, rewrite, verify, for up to `max_rounds` rounds; roll back if not verified."""
    runner = runner or runtime_client.run
    planner = planner or make_plan
    here = Path(cwd or target.cwd or Path.cwd()).resolve()
    root = default_root(target, here)
    target = replace(target, root=str(root), cwd=str(here))
    with tempfile.TemporaryDirectory(prefix="inplace-fix-") as tmp:
        work = Path(tmp)
        reference = work / "reference.pt"
        first = runner(target, work / "round0.json", record=reference, clone_on_write=True, echo=echo)
        report = first.report
        if first.timed_out or report is None:
            return _script_failed(report, first)
        problems = list(report.get("problems") or [])
        if not problems:
            if report.get("script_error") or report.get("status") in ("script-error", "timeout"):
                return _script_failed(report, first)
            return Outcome("clean", ExitCode.OK, first_report=report, output=first.output,
                           summary="no in-place problem found; nothing to fix")
        journal = Journal()
        try:
            return _rounds(target, root, here, work, reference, report, problems, first, runner, planner,
                           rewrite, max_rounds, journal)
        except BaseException:  # Ctrl-C or a bug mid-round: the user's files go back as they were
            journal.rollback()
            raise


def _rounds(target: Request, root: Path, here: Path, work: Path, reference: Path, report: dict[str, Any],
            problems: list[dict[str, Any]], first: RunResult, runner: Runner, planner: Callable[..., Any],
            rewrite: Callable[..., Any] | None, max_rounds: int, journal: Journal) -> Outcome:
    reference_calls = report.get("backward_calls")
    first_report = report
    shown: list[dict[str, Any]] = []  # every problem of every round, annotated
    fixed: list[dict[str, Any]] = []  # the raw problems a rewrite addressed
    rounds: list[RoundRecord] = []
    fd_check = False
    seen: set[tuple[str, ...]] = set()  # the problems already rewritten, to notice a fix that did nothing

    def fail(status: str, why: str, verification: Mapping[str, Any] | None = None,
             verdict: Verdict | None = None) -> Outcome:
        restored = tuple(display(p, here) for p in journal.rollback())
        summary = f"not fixed: {why}" + ("; every edited file was restored byte for byte" if restored else "")
        return Outcome(status, ExitCode.FOUND, tuple(shown), tuple(rounds), dict(verification or {}) or None,
                       verdict, (), restored, summary, why, first_report, output=first.output)

    for number in range(1, max_rounds + 1):
        the_plan = planner(problems, root, report)
        try:
            edits, declined = build_edits(the_plan.fixes, rewrite=rewrite, cwd=here)
        except SourceError as exc:
            return fail("unfixable", f"cannot rewrite: {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - a parse error or a rule bug: undo, explain, never crash
            return fail("unfixable", f"cannot rewrite: {type(exc).__name__}: {exc}")
        annotated = annotate(problems, the_plan, edits, declined, here)
        shown.extend(annotated)
        record = RoundRecord(number, tuple(annotated), the_plan.fixes, the_plan.unfixable,
                             tuple(e.display for e in edits))
        if the_plan.unfixable or declined or not edits:
            rounds.append(replace(record, status="unfixable"))
            reasons = [p["why_unfixable"] for p in annotated if p.get("why_unfixable")]
            why = reasons[0] if len(reasons) == 1 else (
                f"{len(reasons)} problems have no automatic fix" if reasons else "no rewrite applies")
            status = "unfixable" if number == 1 else "not-verified"
            if number > 1:
                why = f"round {number} found a problem with no automatic fix: {why}"
                if any(is_silent_problem(p) for p in fixed):
                    why += f"; {SILENT_ADVICE}"
            return fail(status, why)
        try:
            for edit in edits:
                journal.write(edit)
        except (OSError, SourceError) as exc:
            return fail("unfixable", f"cannot write {edit.display}: {getattr(exc, 'reason', exc)}")
        fixed.extend(problems)
        fd_check = fd_check or any(is_silent_problem(p) for p in problems)
        recording = work / f"round{number}.pt"
        result = runner(target, work / f"round{number}.json", compare=reference, record=recording,
                        fd_check=fd_check)
        rerun = result.report or {}
        verification = rerun.get("verification")
        if result.timed_out:
            rounds.append(replace(record, status="timeout", verification=verification))
            return fail("not-verified", "the fixed script timed out", verification)
        new = list(rerun.get("problems") or [])
        if new:
            rounds.append(replace(record, status="found", verification=verification))
            seen.update(_signature(p) for p in problems)
            again = [p for p in new if _signature(p) in seen]
            if again:
                site = again[0].get("modified_at") or {}
                why = (f"the rewrite did not remove the problem: the same write "
                       f"({display(site.get('file') or '?', here)}:{site.get('line')} "
                       f"`{(site.get('code') or '').strip()}`) fails again after it; change it by hand "
                       "(e.g. collect the values in a list and torch.stack them)")
                shown.extend({**relativize(p, here), "fix": None, "why_unfixable": why} for p in again)
                return fail("not-verified", why)
            problems, report = new, rerun
            continue
        if result.report is None or rerun.get("script_error"):
            rounds.append(replace(record, status="script-error", verification=verification))
            error = rerun.get("script_error") or {}
            why = (f"the fixed script failed: {error.get('type')}: {error.get('message')}" if error
                   else f"the runtime wrote no report for the fixed run (exit {result.returncode})")
            return fail("not-verified", why, verification)
        verdict = judge(verification, fixed, reference_calls)
        rounds.append(replace(record, status=verdict.status, verification=verification))
        if not verdict.verified:
            return fail("not-verified", verdict.why, verification, verdict)
        files = tuple(display(p, here) for p in journal.changed())
        summary = summary_line(verdict, len(fixed), len(files), verification)
        return Outcome("fixed", ExitCode.OK, tuple(shown), tuple(rounds), dict(verification or {}), verdict,
                       files, (), summary, verdict.why, first_report, output=first.output)
    return fail("not-verified", f"a problem remains after {max_rounds} rounds (--max-rounds)")


def run_apply(request: Request, *, json_output: bool = False, max_rounds: int = 5,
              unsafe_fixes: bool = False, **_: Any) -> int:
    """The CLI's --apply (called by codemod.commands.fix with a checked Request): run, print, exit code.

    Every dynamic fix is verified by re-running, so `unsafe_fixes` changes nothing here:
    an aliasing rewrite that changes behaviour fails the gradient comparison and is undone.
    """
    import sys

    from codemod.console import Console
    from codemod.diagnose import to_json
    from codemod.fixer.report import render_text, to_json as report_json

    outcome = apply_fix(request, max_rounds=max_rounds, cwd=request.cwd)
    # The script's own output (from the diagnosis run) goes to stderr under --json, else stdout.
    script_out = sys.stderr if json_output else sys.stdout
    if outcome.output:
        script_out.write(outcome.output)
        script_out.flush()
    if json_output:
        sys.stdout.write(to_json(report_json(outcome, request.target)) + "\n")
        sys.stdout.flush()
        if outcome.status in ("script-error", "timeout"):
            sys.stderr.write(f"inplace-fix: {request.target}: {outcome.why}\n")
    else:
        stream = sys.stderr if outcome.status in ("script-error", "timeout") else sys.stdout
        stream.write(render_text(outcome, Console(stream)))
        stream.flush()
    return int(outcome.exit_code)
