"""The Python API: what the command line, a notebook, a pytest plugin or another tool calls.

Five calls, no printing, no click. Each returns a frozen value that carries everything
the command line shows, and raises `InputError` (one line, nothing run or written) for
input a user must correct:

    from inplace_fix import api

    result = api.scan(["models/"])                 # static: never runs code
    for finding in result.findings:
        print(finding.path, finding.line, finding.code)
    outcome = api.fix("train.py", api.FixOptions(steps=2))   # diagnose, rewrite, verify
    print(outcome.status, outcome.summary)
    api.restore(".")                               # undo what a killed --apply left
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from inplace_fix.diagnosis import Diagnosis, run_diagnosis
from inplace_fix.errors import InputError
from inplace_fix.fixer.outcome import Outcome
from inplace_fix.journal import STATE_DIR, Recovered
from inplace_fix.lint import FileError, FileResult
from inplace_fix.report import Fix, Problem, Report, Round, Site
from inplace_fix.request import Request, check_request
from inplace_fix.transforms.base import Finding

__all__ = [
    "scan", "migrate", "scan_source", "migrate_source", "SourceMigration", "diagnose", "fix", "restore", "project_root",
    "StaticOptions", "ScanResult", "MigrateResult", "Target", "RunOptions", "FixOptions",
    "Diagnosis", "Outcome", "Report", "Problem", "Site", "Fix", "Round", "Finding", "FileResult", "FileError",
    "InputError", "Recovered",
]

Progress = Callable[[int, int], None]  # (files done so far, files in the run)


# ------------------------------------------------------------------ static: scan, migrate


@dataclass(frozen=True)
class StaticOptions:
    """Options of `scan` and `migrate`; each path's own `[tool.inplace-fix]` config applies too."""

    select: tuple[str, ...] = ()  # rule codes; empty: each config's selection (ALL: every rule)
    ignore: tuple[str, ...] = ()
    min_confidence: str = "medium"  # low | medium | high
    jobs: int | None = None  # worker processes; None or 0: every core
    unsafe_fixes: bool = False  # migrate: also rewrites that can change behaviour through aliasing
    file_timeout: float | None = 30.0  # seconds per file; a file over it is an error, left alone; None: no limit
    force_exclude: bool = False  # the config's excludes apply to files named explicitly too (pre-commit)


@dataclass(frozen=True)
class ScanResult:
    """Every file scanned, in path order, and the paths that could not be used."""

    files: tuple[FileResult, ...]
    errors: tuple[FileError, ...]  # files left alone (unreadable, unparsable, missing paths), with why

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.files for f in r.findings)

    @property
    def suppressed(self) -> int:
        return sum(r.suppressed for r in self.files)


@dataclass(frozen=True)
class MigrateResult(ScanResult):
    """A migration: per file the diff, what was fixed, skipped as unsafe, or left to a human."""

    applied: bool = False  # the changes were written
    recovered: tuple[Recovered, ...] = ()  # what --apply undid first: the journals of runs that died

    @property
    def changed(self) -> tuple[FileResult, ...]:
        return tuple(r for r in self.files if r.changed and (r.written or not self.applied))

    @property
    def pending(self) -> bool:
        """Something is left for a human: a dry-run change, an unsafe fix skipped, a finding unfixed."""
        return any(r.unsafe_skipped or r.unfixed or (r.changed and not self.applied) for r in self.files)


def _static(paths: Sequence[str], options: StaticOptions, fix: bool, write: bool, cwd: str | None,
            progress: Progress | None) -> tuple[tuple[FileResult, ...], tuple[FileError, ...], tuple[Recovered, ...]]:
    from inplace_fix.bulk import run_many
    from inplace_fix.workset import build_workset

    if not paths:
        raise InputError("no paths given")
    workset = build_workset(list(paths), list(options.select) or None, list(options.ignore), fix=fix,
                            unsafe=options.unsafe_fixes, write=write, min_confidence=options.min_confidence,
                            cwd=Path(cwd) if cwd else None, force_exclude=options.force_exclude)
    from dataclasses import replace

    jobs = tuple((target, replace(lint, file_timeout=options.file_timeout or None)) for target, lint in workset.jobs)
    total = len(jobs)
    done = 0

    def on_done(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    recovered: tuple[Recovered, ...] = ()
    if write:  # locked, a dead run undone, then every file journaled and written by this process
        from inplace_fix.batch_write import BatchWrite, write_roots

        here = Path(cwd or os.getcwd())
        with BatchWrite(write_roots([here / p for p in paths], (t.path for t, _ in jobs))) as batch:
            results = batch.commit(run_many(jobs, jobs=options.jobs, on_done=on_done, on_result=batch.stage))
        recovered = batch.recovered
    else:
        results = run_many(jobs, jobs=options.jobs, on_done=on_done)
    errors = list(workset.problems) + [FileError(r.display, r.error) for r in results if r.error]
    return results, tuple(errors), recovered


def scan(paths: Sequence[str], options: StaticOptions = StaticOptions(), *, cwd: str | None = None,
         progress: Progress | None = None) -> ScanResult:
    """Every in-place site that can break autograd, with rule codes. Runs no code."""
    files, errors, _ = _static(paths, options, fix=False, write=False, cwd=cwd, progress=progress)
    return ScanResult(files, errors)


def migrate(paths: Sequence[str], options: StaticOptions = StaticOptions(), apply: bool = False, *,
            cwd: str | None = None, progress: Progress | None = None) -> MigrateResult:
    """The static rewrite of every fixable site: diffs (dry run), or written with `apply`.

    With `apply` the run holds each project root's lock (raises `LockBusy`, an InputError,
    when another run holds one), first undoes what a run that died left (`recovered`), and
    writes under the journal: a crash leaves each file its original or its whole rewrite,
    and the next run puts the originals back. A dry run takes no lock and writes nothing.
    """
    files, errors, recovered = _static(paths, options, fix=True, write=apply, cwd=cwd, progress=progress)
    return MigrateResult(files, errors, applied=apply, recovered=recovered)


@dataclass(frozen=True)
class SourceMigration(MigrateResult):
    """`migrate -`: the rewritten source (the input unchanged when nothing applies)."""

    output: bytes = b""


def _stdin(data: bytes, name: str | None, options: StaticOptions, fix: bool, cwd: str | None):
    from inplace_fix.stdin_input import lint_stdin

    return lint_stdin(data, name, tuple(options.select) or None, tuple(options.ignore), fix=fix,
                      unsafe=options.unsafe_fixes, min_confidence=options.min_confidence,
                      file_timeout=options.file_timeout or None, force_exclude=options.force_exclude,
                      cwd=Path(cwd or os.getcwd()))


def scan_source(data: bytes, name: str | None = None, options: StaticOptions = StaticOptions(), *,
                cwd: str | None = None) -> ScanResult:
    """`scan` of one source given as bytes (stdin), as the file `name` (its config, its path shown)."""
    done = _stdin(data, name, options, False, cwd)
    files = () if done.file is None else (done.file,)
    return ScanResult(files, tuple(FileError(r.display, r.error) for r in files if r.error))


def migrate_source(data: bytes, name: str | None = None, options: StaticOptions = StaticOptions(), *,
                   cwd: str | None = None) -> SourceMigration:
    """`migrate` of one source given as bytes: the rewrite comes back in `output`, nothing is written."""
    done = _stdin(data, name, options, True, cwd)
    files = () if done.file is None else (done.file,)
    return SourceMigration(files, tuple(FileError(r.display, r.error) for r in files if r.error),
                           output=done.output)


# ------------------------------------------------------------------ dynamic: diagnose, fix


@dataclass(frozen=True)
class Target:
    """What runs: a script (like `python SCRIPT`) or a module (like `python -m MODULE`)."""

    script: str | None = None
    module: str | None = None
    args: tuple[str, ...] = ()

    @classmethod
    def of(cls, target: "Target | str | os.PathLike[str]") -> "Target":
        return target if isinstance(target, Target) else cls(script=os.fspath(target))


@dataclass(frozen=True)
class RunOptions:
    """How the script runs under the runtime."""

    steps: int = 3  # stop cleanly after this many successful backward calls
    timeout: float = 600.0  # seconds; the script and everything it started are stopped then
    python: str | None = None  # the interpreter that has torch; None: this one if it has torch, else `python` on PATH
    root: str | None = None  # project root (default: the git top-level above the script, else its folder)
    anomaly: bool = False  # also run torch's anomaly detection as a cross-check
    cwd: str | None = None  # the directory the script runs in (default: the current one)


@dataclass(frozen=True)
class FixOptions(RunOptions):
    """`fix` also re-runs and verifies, for up to `max_rounds` rounds, trying each problem's
    candidate fixes in turn (at most `max_candidates` verification runs per problem)."""

    max_rounds: int = 5
    max_candidates: int = 3


def _request(target: Target | str | os.PathLike[str], options: RunOptions) -> Request:
    t = Target.of(target)
    if (t.script is None) == (t.module is None):
        raise InputError("give a script or a module, not both or neither")
    return check_request(Request(script=t.script, module=t.module, args=tuple(t.args), steps=options.steps,
                                 timeout=options.timeout, python=options.python, root=options.root,
                                 anomaly=options.anomaly, cwd=options.cwd or os.getcwd()))


def _notebook(target: Target | str | os.PathLike[str]) -> Target | None:
    """The target when it is a Jupyter notebook (`.ipynb`), else None."""
    t = Target.of(target)
    return t if t.module is None and t.script is not None and os.fspath(t.script).endswith(".ipynb") else None


def diagnose(target: Target | str | os.PathLike[str], options: RunOptions = RunOptions(), *,
             stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> Diagnosis:
    """Run the script once under the runtime; each problem found comes with its proposed fix.

    The script's output goes to `stdout`/`stderr` (this process's streams by default).
    Writes nothing.
    """
    from inplace_fix.fixer.preview import propose_each

    notebook = _notebook(target)
    if notebook is not None:  # its code cells, run as one script (notebook_run)
        from inplace_fix.notebook_run import diagnose_notebook

        return diagnose_notebook(notebook.script or "", options.cwd or os.getcwd(),
                                 lambda script: _request(Target(script=script, args=notebook.args), options),
                                 stdout, stderr)
    request = _request(target, options)
    diagnosis = run_diagnosis(request, stdout, stderr)
    if not diagnosis.problems:
        return diagnosis
    return diagnosis.with_problems(propose_each(diagnosis.problems, diagnosis.root, request.cwd))


def fix(target: Target | str | os.PathLike[str], options: FixOptions = FixOptions(), *,
        echo: bool | IO[str] = False) -> Outcome:
    """Diagnose, rewrite, re-run and verify; only a verified fix is written (under the journal).

    The script's output of the diagnosis run is in `Outcome.output` (also copied to
    stream `echo` as it runs: True for stderr; only its last 64 KiB are kept).
    """
    from inplace_fix.fixer.apply import apply_fix

    notebook = _notebook(target)
    if notebook is not None:  # its code cells, run as one script; the verified fix goes into the cells
        from inplace_fix.notebook_run import fix_notebook

        return fix_notebook(notebook.script or "", options.cwd or os.getcwd(),
                            lambda script: _request(Target(script=script, args=notebook.args), options),
                            lambda request: apply_fix(request, max_rounds=options.max_rounds,
                                                      max_candidates=options.max_candidates, cwd=request.cwd,
                                                      echo=echo))
    request = _request(target, options)
    return apply_fix(request, max_rounds=options.max_rounds, max_candidates=options.max_candidates,
                     cwd=request.cwd, echo=echo)


# ------------------------------------------------------------------ after a crash: restore


def project_root(target: Target | str | os.PathLike[str], root: str | None = None, cwd: str | None = None) -> Path:
    """The root `fix` would use for `target`: `root`, else the git top-level above it, else its folder."""
    from inplace_fix.fixer.apply import default_root

    t = Target.of(target)
    here = Path(cwd or os.getcwd()).resolve()
    return default_root(Request(script=t.script, module=t.module, root=root, cwd=str(here)), here)


def restore(path: str | os.PathLike[str] = ".", *, wait: float = 0.0) -> tuple[Recovered, ...]:
    """Undo what runs that died (killed during `--apply`) left in the project of `path`.

    `path` is a file or folder in the project (its root is the git top-level above it, else
    the folder itself). Each unfinished journal is undone: an unverified edit goes back to
    the original bytes, a verified fix that was completely written stays. Raises
    `LockBusy` (an InputError) when another run holds the project, after `wait` seconds.
    """
    from inplace_fix.journal import recover
    from inplace_fix.paths import find_root
    from inplace_fix.project_lock import ProjectLock

    where = Path(os.path.abspath(path))
    if not where.exists():
        raise InputError(f"{path}: no such file or folder")
    root = Path(find_root(where if where.is_dir() else where.parent))
    if not (root / STATE_DIR / "journal").is_dir():
        return ()
    with ProjectLock(root, wait=wait, what="run"):
        return tuple(recover(root))
