"""`--apply`: diagnose (recording the reference), rewrite, re-run under the verifier, repeat.

Round 1's diagnosis run doubles as the reference run (`--clone-on-write --record`), so
--apply costs one extra run per round. The edits stay in memory (`Workspace`): each
re-run reads them through the runtime's overlay, and only a verified fix is written,
under the project's journal. One run at a time per project root (`ProjectLock`);
the journal of a run that died is undone first. Nothing here prints: the outcome is
a value.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from inplace_fix.fileio import SourceError
from inplace_fix.fixer import runtime_client
from inplace_fix.fixer.annotate import annotate
from inplace_fix.fixer.candidates import DEFAULT_MAX_CANDIDATES, Choices, edits_for
from inplace_fix.fixer.model import Verdict
from inplace_fix.fixer.outcome import Outcome
from inplace_fix.fixer.planner import plan_all as make_plan
from inplace_fix.fixer.runtime_client import RunResult
from inplace_fix.fixer.verifier import is_silent_problem, judge, summary_line
from inplace_fix.fixer.workspace import Workspace
from inplace_fix.journal import recover
from inplace_fix.paths import display_path, find_root
from inplace_fix.project_lock import ProjectLock
from inplace_fix.report import Problem, Report, Round
from inplace_fix.request import Request
from inplace_fix.scratch import scratch_dir

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
              rewrite: Callable[..., Any] | None = None, echo: bool | IO[str] = False,
              max_candidates: int = DEFAULT_MAX_CANDIDATES) -> Outcome:
    """Diagnose, rewrite, verify, for up to `max_rounds` rounds; roll back if not verified.

    Each problem's candidate fixes are verified in turn, at most `max_candidates` runs each.
    """
    runner = runner or runtime_client.run
    planner = planner or make_plan
    here = Path(cwd or target.cwd or Path.cwd()).resolve()
    root = default_root(target, here)
    target = replace(target, root=str(root), cwd=str(here))
    with ProjectLock(root):  # a second --apply on this project waits, then exits 2 untouched
        recovered = tuple(recover(root))
        outcome = _apply_locked(target, root, here, runner, planner, rewrite, echo, max_rounds, max_candidates)
    return replace(outcome, recovered=recovered) if recovered else outcome


def _apply_locked(target: Request, root: Path, here: Path, runner: Runner, planner: Callable[..., Any],
                  rewrite: Callable[..., Any] | None, echo: bool | IO[str], max_rounds: int,
                  max_candidates: int) -> Outcome:
    with scratch_dir() as tmp:  # a folder a killed run leaves is swept by the next run
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
        workspace = Workspace(root)
        try:
            return _rounds(target, root, here, work, reference, report, first, runner, planner,
                           rewrite, max_rounds, workspace, max_candidates)
        except BaseException:  # Ctrl-C or a bug mid-round: whatever reached disk goes back
            workspace.rollback()
            raise


def _rounds(target: Request, root: Path, here: Path, work: Path, reference: Path, report: Report,
            first: RunResult, runner: Runner, planner: Callable[..., Any],
            rewrite: Callable[..., Any] | None, max_rounds: int, workspace: Workspace,
            max_candidates: int = DEFAULT_MAX_CANDIDATES) -> Outcome:
    reference_calls = report.backward_calls
    values_only = bool(report.data.get("values_only_reference"))  # a forward write replayed without autograd
    first_report = report
    problems = list(report.problems)
    shown: list[Problem] = []  # every problem of every finished round, annotated
    fixed: list[Problem] = []  # the problems a rewrite addressed
    rounds: list[Round] = []
    fd_check = False
    seen: set[tuple[str, ...]] = set()  # the problems already rewritten, to notice a fix that did nothing
    runs = 0

    def fail(status: str, why: str, verification: Any = None, verdict: Verdict | None = None,
             current: Sequence[Problem] = ()) -> Outcome:
        edited = bool(workspace.changed())
        restored = tuple(display_path(p, here) for p in workspace.rollback())
        summary = f"not fixed: {why}" + ("; every edited file was restored byte for byte" if restored
                                         else "; no file was changed" if edited or rounds else "")
        return Outcome(target.target, target.cwd, status, tuple(shown) + tuple(current), tuple(rounds),
                       dict(verification or {}) or None, verdict, (), restored, summary, why, first_report,
                       output=first.output)

    for number in range(1, max_rounds + 1):
        the_plan = planner(problems, root, report, read=workspace.text)
        choices = Choices(the_plan, max_candidates)
        attempt = 0
        while True:  # one pass per candidate set: a refuted candidate gives way to the next
            attempt += 1
            try:
                edits = edits_for(choices, rewrite, here, read=workspace.read)
            except SourceError as exc:
                return fail("unfixable", f"cannot rewrite: {exc.reason}")
            except Exception as exc:  # noqa: BLE001 - a parse error or a rule bug: undo, explain, never crash
                return fail("unfixable", f"cannot rewrite: {type(exc).__name__}: {exc}")
            annotated = annotate(problems, the_plan, choices, edits, here, final=False)
            record = Round(number, "", tuple(annotated), tuple(e.display for e in edits))
            if the_plan.unfixable or choices.exhausted() or not edits:
                rounds.append(replace(record, status="unfixable"))
                reasons = [p.why_unfixable for p in annotated if p.why_unfixable]
                why = reasons[0] if len(reasons) == 1 else (
                    f"{len(reasons)} problems have no automatic fix" if reasons else "no rewrite applies")
                status = "unfixable" if number == 1 and attempt == 1 else "not-verified"
                if number > 1:
                    why = f"round {number} found a problem with no automatic fix: {why}"
                    if any(is_silent_problem(p) for p in fixed):
                        why += f"; {SILENT_ADVICE}"
                return fail(status, why, current=annotated)
            workspace.begin_attempt()
            for edit in edits:
                workspace.write(edit)
            round_fd = fd_check or values_only or any(is_silent_problem(p) for p in problems)
            try:
                runs, result = _verify(target, work, reference, runs, runner, workspace, round_fd)
            except (OSError, SourceError) as exc:
                return fail("unfixable", f"cannot write {getattr(exc, 'filename', None) or 'a file'}: "
                            f"{getattr(exc, 'reason', None) or getattr(exc, 'strerror', None) or exc}",
                            current=annotated)
            rerun = result.report
            verification = rerun.verification if rerun else None
            if result.timed_out:
                rounds.append(replace(record, status="timeout", verification=verification))
                return fail("not-verified", "the fixed script timed out", verification, current=annotated)
            refuted = _refutation(rerun, problems, seen, fixed, reference_calls, here, values_only)
            if refuted is None:
                break  # accepted: new problems (next round) or a verified fix
            indexes, why, verdict = refuted
            blamed = choices.retryable(indexes)  # one problem's candidate gives way at a time
            if blamed is None:
                for index in indexes:
                    choices.reject(index, why)
                annotated = annotate(problems, the_plan, choices, edits, here)
                rounds.append(replace(record, problems=tuple(annotated), status=_failed_status(rerun, verdict),
                                      verification=verification))
                return fail("not-verified", _why_all(why, choices, here), verification, verdict,
                            current=annotated)
            choices.reject(blamed, why)
            workspace.undo_attempt()  # back to the round's start; the next candidate is tried
        new = list(rerun.problems) if rerun else []
        choices.accept("kept" if new else "verified")  # kept: the re-run went on to another problem
        annotated = annotate(problems, the_plan, choices, edits, here)
        shown.extend(annotated)
        fixed.extend(problems)
        fd_check = round_fd
        if new:
            rounds.append(replace(record, problems=tuple(annotated), status="found", verification=verification))
            seen.update(k for p in problems for k in _keys(p))
            problems, report = new, rerun
            continue
        verdict = judge(verification, fixed, reference_calls, values_only)
        rounds.append(replace(record, problems=tuple(annotated), status=verdict.status, verification=verification))
        meanwhile = workspace.changed_meanwhile()
        if meanwhile:
            names = ", ".join(display_path(p, here) for p in meanwhile)
            return fail("not-verified", f"{names} changed on disk while the fix was being verified; the fix "
                        "was not written over it: run again", verification, verdict)
        try:
            written = workspace.commit()  # verified: now, and only now, the user's files change
        except (OSError, SourceError) as exc:
            return fail("not-verified", f"cannot write the verified fix: {getattr(exc, 'reason', None) or exc}",
                        verification, verdict)
        files = tuple(display_path(p, here) for p in written)
        summary = summary_line(verdict, len(fixed), len(files), verification)
        return Outcome(target.target, target.cwd, "fixed", tuple(shown), tuple(rounds), dict(verification or {}),
                       verdict, files, (), summary, verdict.why, first_report, output=first.output)
    return fail("not-verified", f"a problem remains after {max_rounds} rounds (--max-rounds)")


def _verify(target: Request, work: Path, reference: Path, runs: int, runner: Runner, workspace: Workspace,
            fd_check: bool) -> tuple[int, RunResult]:
    """Re-run the script on the edited sources (from memory); (runs so far, the result).

    An edited file the re-run did not read through the overlay (a process the runtime
    did not start imported it) is written first, under the journal, and the run is
    repeated: a verification must always have run the edited code.
    """
    while True:
        runs += 1
        overlay = workspace.overlay(work / f"run{runs}.overlay.json")
        request = replace(target, overlay=str(overlay) if overlay else None)
        result = runner(request, work / f"run{runs}.json", compare=reference, record=work / f"run{runs}.pt",
                        fd_check=fd_check)
        if overlay is None or result.report is None or result.timed_out:
            return runs, result
        taken = result.report.data.get("overlay")
        missed = workspace.unserved(taken.get("served") if isinstance(taken, dict) else None)
        if not missed:
            return runs, result
        workspace.write_through(missed)


def _refutation(rerun: Report | None, problems: Sequence[Problem], seen: set[tuple[str, ...]],
                fixed: Sequence[Problem], reference_calls: int | None, here: Path,
                values_only: bool = False) -> tuple[list[int], str, Verdict | None] | None:
    """None when the re-run accepts the candidates (a verified fix, or only new problems);
    else the problems whose candidate it refutes, why, and the verdict when one was reached."""
    new = list(rerun.problems) if rerun else []
    if new:
        current = {key: i for i, p in enumerate(problems) for key in _keys(p)}
        again = [p for p in new if any(k in current or k in seen for k in _keys(p))]
        if not again:
            return None
        site = again[0].modified_at
        where = f"{site.file(str(here)) if site else '?'}:{site.line if site else None}"
        why = (f"did not remove the problem: the same write ({where} `{site.code.strip() if site else ''}`) "
               "fails again after it")
        indexes = sorted({current[k] for p in again for k in _keys(p) if k in current}) or list(range(len(problems)))
        return indexes, why, None
    if rerun is None or rerun.script_error:
        error = rerun.script_error if rerun else None
        why = (f"the fixed script failed: {error.get('type')}: {error.get('message')}" if error
               else "the runtime wrote no report for the fixed run")
        return list(range(len(problems))), why, None
    verdict = judge(rerun.verification, [*fixed, *problems], reference_calls, values_only)
    if verdict.verified:
        return None
    return list(range(len(problems))), verdict.why, verdict


def _keys(problem: Problem) -> tuple[tuple[str, ...], ...]:
    """What makes a problem the same one after a rewrite: its code text, or its write's text
    with the saving line's place (a clone at the saving site changes that line's text only)."""
    saved, built = problem.saved_at, problem.construction_at
    place = (problem.kind, "place", problem.modified_at.path if problem.modified_at else "",
             problem.modified_at.code.strip() if problem.modified_at else "",
             f"{saved.path}:{saved.line}" if saved else "",
             f"{built.path}:{built.line}:{built.code.strip()}" if built else "")
    return problem.signature(), place


def _failed_status(rerun: Report | None, verdict: Verdict | None) -> str:
    if rerun is not None and rerun.problems:
        return "found"
    if rerun is None or rerun.script_error:
        return "script-error"
    return verdict.status if verdict else "not-verified"


def _why_all(why: str, choices: Choices, here: Path) -> str:
    """The failure in words: the last refutation, and the candidates tried before it."""
    tried = [o for i in sorted(choices.outcomes) for o in choices.outcomes[i] if o[1] == "rejected"]
    if len(tried) <= 1:
        if "did not remove the problem" in why:
            return (f"the rewrite {why}; change it by hand "
                    "(e.g. collect the values in a list and torch.stack them)")
        return why
    listed = "; ".join(f"{fix.kind} ({fix.rule} at {display_path(fix.file, here)}:{fix.line}): {reason}"
                       for fix, _status, reason in tried)
    return f"no candidate fix verified ({len(tried)} tried): {listed}"

