"""`--apply`: diagnose (recording the reference), rewrite, re-run under the verifier, repeat.

Round 1's diagnosis run doubles as the reference run (`--clone-on-write --record`), so
--apply costs one extra run per round. Whatever is not verified is rolled back byte
for byte; the outcome says why. Nothing here prints: the outcome is a value.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from inplace_fix.fileio import SourceError
from inplace_fix.fixer import runtime_client
from inplace_fix.fixer.annotate import annotate
from inplace_fix.fixer.edits import Journal, build_edits
from inplace_fix.fixer.model import Verdict
from inplace_fix.fixer.outcome import Outcome
from inplace_fix.fixer.planner import plan_all as make_plan
from inplace_fix.fixer.runtime_client import RunResult
from inplace_fix.fixer.verifier import is_silent_problem, judge, summary_line
from inplace_fix.paths import display_path, find_root
from inplace_fix.report import Problem, Report, Round
from inplace_fix.request import Request

Runner = Callable[..., RunResult]

SILENT_ADVICE = (
    "the `.data` write is part of the forward pass (its result is read again), so making it visible "
    "to autograd (e.g. `h = h * 0.5`) changes the gradients from the original's; `.data` may also be "
    "a deliberate straight-through trick: decide by hand"
)


def default_root(target: Request, cwd: Path) -> Path:
    """The project root: --root, else the git top-level above the script (or cwd), else its folder."""
    if target.root:
        return Path(cwd, target.root).resolve()
    if target.script:
        return Path(find_root((cwd / target.script).resolve().parent))
    return Path(find_root(cwd))


def _script_failed(target: Request, report: Report | None, result: RunResult) -> Outcome:
    if result.timed_out:
        return Outcome(target.target, target.cwd, "timeout", first_report=report, output=result.output,
                       why="the script timed out", summary="not fixed: the script timed out")
    error = report.script_error if report else None
    why = (f"the script failed: {error.get('type')}: {error.get('message')}" if error
           else f"the runtime wrote no report (exit {result.returncode})")
    return Outcome(target.target, target.cwd, "script-error", first_report=report, script_error=error,
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
            return _script_failed(target, report, first)
        if not report.problems:
            if report.script_error or report.status in ("script-error", "timeout"):
                return _script_failed(target, report, first)
            return Outcome(target.target, target.cwd, "clean", first_report=report, output=first.output,
                           summary="no in-place problem found; nothing to fix")
        journal = Journal()
        try:
            return _rounds(target, root, here, work, reference, report, first, runner, planner,
                           rewrite, max_rounds, journal)
        except BaseException:  # Ctrl-C or a bug mid-round: the user's files go back as they were
            journal.rollback()
            raise


def _rounds(target: Request, root: Path, here: Path, work: Path, reference: Path, report: Report,
            first: RunResult, runner: Runner, planner: Callable[..., Any],
            rewrite: Callable[..., Any] | None, max_rounds: int, journal: Journal) -> Outcome:
    reference_calls = report.backward_calls
    first_report = report
    problems = list(report.problems)
    shown: list[Problem] = []  # every problem of every round, annotated
    fixed: list[Problem] = []  # the problems a rewrite addressed
    rounds: list[Round] = []
    fd_check = False
    seen: set[tuple[str, ...]] = set()  # the problems already rewritten, to notice a fix that did nothing

    def fail(status: str, why: str, verification: Any = None, verdict: Verdict | None = None) -> Outcome:
        restored = tuple(display_path(p, here) for p in journal.rollback())
        summary = f"not fixed: {why}" + ("; every edited file was restored byte for byte" if restored else "")
        return Outcome(target.target, target.cwd, status, tuple(shown), tuple(rounds),
                       dict(verification or {}) or None, verdict, (), restored, summary, why, first_report,
                       output=first.output)

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
        record = Round(number, "", tuple(annotated), tuple(e.display for e in edits))
        if the_plan.unfixable or declined or not edits:
            rounds.append(replace(record, status="unfixable"))
            reasons = [p.why_unfixable for p in annotated if p.why_unfixable]
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
        rerun = result.report
        verification = rerun.verification if rerun else None
        if result.timed_out:
            rounds.append(replace(record, status="timeout", verification=verification))
            return fail("not-verified", "the fixed script timed out", verification)
        new = list(rerun.problems) if rerun else []
        if new:
            rounds.append(replace(record, status="found", verification=verification))
            seen.update(p.signature() for p in problems)
            again = [p for p in new if p.signature() in seen]
            if again:
                site = again[0].modified_at
                where = f"{site.file(str(here)) if site else '?'}:{site.line if site else None}"
                why = (f"the rewrite did not remove the problem: the same write "
                       f"({where} `{site.code.strip() if site else ''}`) fails again after it; change it by hand "
                       "(e.g. collect the values in a list and torch.stack them)")
                shown.extend(p.with_fix(None, why) for p in again)
                return fail("not-verified", why)
            problems, report = new, rerun
            continue
        if rerun is None or rerun.script_error:
            rounds.append(replace(record, status="script-error", verification=verification))
            error = rerun.script_error if rerun else None
            why = (f"the fixed script failed: {error.get('type')}: {error.get('message')}" if error
                   else f"the runtime wrote no report for the fixed run (exit {result.returncode})")
            return fail("not-verified", why, verification)
        verdict = judge(verification, fixed, reference_calls)
        rounds.append(replace(record, status=verdict.status, verification=verification))
        if not verdict.verified:
            return fail("not-verified", verdict.why, verification, verdict)
        files = tuple(display_path(p, here) for p in journal.changed())
        summary = summary_line(verdict, len(fixed), len(files), verification)
        return Outcome(target.target, target.cwd, "fixed", tuple(shown), tuple(rounds), dict(verification or {}),
                       verdict, files, (), summary, verdict.why, first_report, output=first.output)
    return fail("not-verified", f"a problem remains after {max_rounds} rounds (--max-rounds)")
