"""`inplace-fix nb.ipynb [--apply]`: the notebook's code cells run in order as one script.

Why a script on disk: the launcher, the runtime, the planner and the verifier all work on
a Python file. The script (`notebook.Script`) is written beside the notebook as
`.<name>.ipynb.inplace-fix.py` (so the notebook's folder is `sys.path[0]`, as in a kernel
started there) for the length of the run and removed after it. The diagnosis and the
outcome are then moved back to the notebook: every site, fix and candidate in the script
is shown at its cell (`nb.ipynb:cell 3`, the line in the cell), every diff is the
notebook's own, and a verified fix is written into the cells' sources, everything else
of the notebook byte for byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from inplace_fix.diagnosis import Diagnosis, run_diagnosis
from inplace_fix.errors import InputError
from inplace_fix.fileio import SourceError, read_source, write_atomic
from inplace_fix.fixer.outcome import Outcome
from inplace_fix.notebook import HEADER, NotebookError, Script, cell_label, parse_notebook, to_script
from inplace_fix.patch import unified_diff
from inplace_fix.paths import display_path
from inplace_fix.report import Attempt, Fix, Problem, Report, Round, Site
from inplace_fix.request import Request

__all__ = ["diagnose_notebook", "fix_notebook", "script_path"]

Check = Callable[[str], Request]  # the script's path -> the checked request (api._request)


def script_path(notebook: Path) -> Path:
    """Where a notebook's script lives during a run: beside it, hidden, named after it."""
    return notebook.with_name(f".{notebook.name}.inplace-fix.py")


@dataclass(frozen=True)
class _Run:
    """One notebook run: the notebook as read, its script, and where each lies."""

    notebook: Path  # absolute
    shown: str  # the notebook as the user named it
    data: bytes
    mode: int
    bom: bool
    script: Script
    path: Path  # the script's file


def _load(given: str, cwd: str) -> _Run:
    path = Path(os.path.abspath(os.path.join(cwd, given)))
    if not path.exists():
        raise InputError(f"{given}: no such file")
    if not path.is_file():
        raise InputError(f"{given}: not a regular file")
    try:
        source = read_source(path)
        notebook = parse_notebook(source.text)
    except SourceError as exc:
        raise InputError(f"{given}: {exc.reason}") from None
    except NotebookError as exc:
        raise InputError(f"{given}: {exc.reason}") from None
    if notebook.language != "python":
        raise InputError(f"{given}: not a Python notebook (its kernel's language is {notebook.language})")
    script = to_script(notebook)
    try:
        compile(script.text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        spot = script.locate(exc.lineno or 0)
        where = f":cell {spot[0]}:{spot[1]}" if spot else ""
        raise InputError(f"{given}{where}: syntax error: {exc.msg}") from None
    except ValueError as exc:
        raise InputError(f"{given}: cannot compile: {exc}") from None
    if not notebook.code_cells:
        raise InputError(f"{given}: the notebook has no code cell")
    return _Run(path, given, source.data, source.mode, source.bom, script, script_path(path))


@contextmanager
def _script_file(run: _Run) -> Iterator[None]:
    """The script on disk for the length of the run (one a killed run left is ours to replace)."""
    try:
        if run.path.exists() and not run.path.read_text(encoding="utf-8", errors="replace").startswith(HEADER):
            raise InputError(f"{display_path(run.path)}: exists and is not inplace-fix's; move it away")
        run.path.write_text(run.script.text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{display_path(run.path)}: cannot write the notebook's script: {exc.strerror}") from None
    try:
        yield
    finally:
        try:
            run.path.unlink()
        except OSError:
            pass


def diagnose_notebook(given: str, cwd: str, check: Check, stdout: IO[str] | None = None,
                      stderr: IO[str] | None = None,
                      propose: Callable[..., tuple[Problem, ...]] | None = None) -> Diagnosis:
    """Run the code cells once under the runtime; each problem at its cell, with its proposed fix."""
    from inplace_fix.fixer.preview import propose_each

    run = _load(given, cwd)
    with _script_file(run):
        request = check(str(run.path))
        diagnosis = run_diagnosis(request, stdout, stderr)
        if diagnosis.problems:
            diagnosis = diagnosis.with_problems((propose or propose_each)(diagnosis.problems, diagnosis.root,
                                                                          request.cwd))
        moved = _Mover(run, request.cwd)
        return replace(diagnosis, request=replace(request, script=given), report=moved.report(diagnosis.report))


def fix_notebook(given: str, cwd: str, check: Check, apply: Callable[[Request], Outcome]) -> Outcome:
    """Diagnose, rewrite, re-run and verify the cells as one script; a verified fix goes into the cells."""
    run = _load(given, cwd)
    with _script_file(run):
        request = check(str(run.path))
        outcome = apply(request)
        moved = _Mover(run, request.cwd)
        if outcome.status == "fixed":
            outcome = _write_back(run, outcome)
        return moved.outcome(outcome)


def _write_back(run: _Run, outcome: Outcome) -> Outcome:
    """The verified script, committed to its file by the fixer, written into the notebook's cells."""
    try:
        fixed = read_source(run.path).text
        if run.notebook.read_bytes() != run.data:
            raise NotebookError(f"{run.shown} changed on disk while the fix was being verified; "
                                "the fix was not written over it: run again")
        text = run.script.write_back(fixed)
        write_atomic(run.notebook, (("\ufeff" if run.bom else "") + text).encode("utf-8"), run.mode)
    except (OSError, SourceError, NotebookError) as exc:
        why = getattr(exc, "reason", None) or str(exc)
        return replace(outcome, status="not-verified", files=(), why=why, summary=f"not fixed: {why}")
    return outcome


_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")


def _patched(text: str, diff: str) -> str | None:
    """`text` with a unified diff of it applied; None when the diff does not fit."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    last = ""
    for line in diff.splitlines(keepends=True):
        hunk = _HUNK.match(line)
        if hunk:
            start = int(hunk[1]) - (0 if hunk[2] == "0" else 1)
            if start < pos:
                return None
            out.extend(old[pos:start])
            pos = start
        elif line.startswith(("---", "+++")) and not out and pos == 0:
            continue
        elif line.startswith(" ") or line.startswith("-"):
            if pos >= len(old) or old[pos].rstrip("\r\n") != line[1:].rstrip("\r\n"):
                return None
            if line.startswith(" "):
                out.append(old[pos])
            pos += 1
        elif line.startswith("+"):
            out.append(line[1:])
        elif line.startswith("\\") and last.startswith("+") and out:
            out[-1] = out[-1].rstrip("\r\n")
        last = line
    return "".join(out + old[pos:])


class _Mover:
    """Moves what the fixer said about the script back to the notebook: cell positions, diffs, names."""

    def __init__(self, run: _Run, cwd: str) -> None:
        self.run, self.cwd = run, cwd
        self.key = os.path.realpath(run.path)
        names = {str(run.path), display_path(run.path, cwd), os.path.relpath(run.path, cwd)}
        self._names = re.compile("(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
                                 + r")(?::(\d+))?")
        self.shown_notebook = display_path(run.notebook, cwd)

    def _mine(self, path: str) -> bool:
        return bool(path) and os.path.realpath(path) == self.key

    def _at(self, path: str, line: int) -> tuple[str, int] | None:
        """(the cell's path as a model path, the line in the cell) for a script position."""
        if not self._mine(path):
            return None
        spot = self.run.script.locate(line)
        return None if spot is None else (cell_label(str(self.run.notebook), spot[0]), spot[1])

    def text(self, value: str) -> str:
        def swap(match: re.Match[str]) -> str:
            spot = self.run.script.locate(int(match[2])) if match[2] else None
            if spot is None:
                return self.shown_notebook
            return f"{cell_label(self.shown_notebook, spot[0])}:{spot[1]}"

        return self._names.sub(swap, value) if value else value

    def diff(self, diff: str) -> str:
        """A diff of the script as the notebook's diff (what --apply writes into the notebook)."""
        new = _patched(self.run.script.text, diff) if diff else None
        if new is None:
            return self.text(diff)
        try:
            after = self.run.script.write_back(new)
        except NotebookError:
            return self.text(diff)
        return unified_diff(self.shown_notebook, self.run.script.notebook.text, after)

    def site(self, site: Site) -> Site:
        spot = self._at(site.path, site.line)
        if spot is None:
            return site
        cell = self.run.script.locate(site.line)[0]  # type: ignore[index]
        data = {**site.data, "file": spot[0], "line": spot[1], "cell": cell}
        end = site.data.get("end_line")
        if isinstance(end, int):
            end_spot = self.run.script.locate(end)
            data["end_line"] = end_spot[1] if end_spot and end_spot[0] == cell else None
        return replace(site, path=spot[0], line=spot[1], data=data)

    def fix(self, fix: Fix | None) -> Fix | None:
        if fix is None:
            return None
        spot = self._at(fix.path, fix.line)
        path, line = spot if spot else (fix.path, fix.line)
        return replace(fix, path=path, line=line, diff=self.diff(fix.diff), title=self.text(fix.title))

    def attempt(self, attempt: Attempt) -> Attempt:
        spot = self._at(attempt.path, attempt.line)
        path, line = spot if spot else (attempt.path, attempt.line)
        return replace(attempt, path=path, line=line, why=self.text(attempt.why))

    def problem(self, problem: Problem) -> Problem:
        sites = {key: self.site(s) for key, s in problem.sites.items()}
        frames = {key: tuple(self.site(s) for s in group) for key, group in problem.frames.items()}
        data = dict(problem.data)
        data.update({key: dict(s.data) for key, s in sites.items()})
        data.update({key: [dict(s.data) for s in group] for key, group in frames.items()})
        return replace(problem, sites=sites, frames=frames, data=data, fix=self.fix(problem.fix),
                       why_unfixable=self.text(problem.why_unfixable) if problem.why_unfixable else None,
                       attempts=tuple(self.attempt(a) for a in problem.attempts))

    def _error(self, error: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if not error:
            return error
        return {key: self.text(value) if isinstance(value, str) else value for key, value in error.items()}

    def report(self, report: Report) -> Report:
        return replace(report, script=self.run.shown, problems=tuple(self.problem(p) for p in report.problems),
                       rounds=tuple(self.round(r) for r in report.rounds), script_error=self._error(report.script_error),
                       files_changed=tuple(self.text(f) for f in report.files_changed),
                       restored=tuple(self.text(f) for f in report.restored), why=self.text(report.why),
                       summary=self.text(report.summary), message=self.text(report.message))

    def round(self, number: Round) -> Round:
        return replace(number, problems=tuple(self.problem(p) for p in number.problems),
                       files=tuple(self.text(f) for f in number.files))

    def outcome(self, outcome: Outcome) -> Outcome:
        return replace(outcome, script=self.run.shown, problems=tuple(self.problem(p) for p in outcome.problems),
                       rounds=tuple(self.round(r) for r in outcome.rounds),
                       files=tuple(self.text(f) for f in outcome.files),
                       restored=tuple(self.text(f) for f in outcome.restored), summary=self.text(outcome.summary),
                       why=self.text(outcome.why), script_error=self._error(outcome.script_error),
                       first_report=self.report(outcome.first_report) if outcome.first_report else None)
