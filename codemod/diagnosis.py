"""A diagnose run: launch the runtime on the user's script once, read what it found.

Torch never enters this process: everything we learn comes from the runtime's
report file, which the launcher reads back (with the anomaly fallback merged in when
the first run could not name a site). The result is a frozen `Diagnosis`; proposing
fixes for its problems is the fixer's job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import IO, Any, Mapping

from inplace_fix.launcher import run_runtime
from inplace_fix.report import Problem, Report
from inplace_fix.request import Request
from inplace_fix.scratch import scratch_dir

__all__ = ["Diagnosis", "run_diagnosis", "from_report"]


@dataclass(frozen=True)
class Diagnosis:
    """What one diagnose run found: the report, and how the run went."""

    request: Request
    report: Report
    returncode: int | None = None
    duration: float = 0.0
    root: str = ""

    @property
    def status(self) -> str:  # clean | found | script-error | timeout
        return self.report.status

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.report.problems

    @property
    def backward_calls(self) -> int:
        return self.report.backward_calls

    @property
    def script_error(self) -> Mapping[str, Any] | None:
        return self.report.script_error

    @property
    def message(self) -> str:
        """Why there is no report, when there is none."""
        return self.report.message

    def with_problems(self, problems: tuple[Problem, ...]) -> "Diagnosis":
        return replace(self, report=replace(self.report, problems=problems))

    def to_json(self) -> dict[str, Any]:
        """The JSON contract (`verification` is null on a dry run)."""
        return self.report.to_json(self.request.cwd)


def from_report(data: Mapping[str, Any], request: Request, returncode: int | None = None,
                duration: float = 0.0) -> Diagnosis:
    """A Diagnosis from a runtime report given as data (tests, tools that kept one)."""
    report = replace(Report.from_json(data, request.cwd), script=request.target, steps=request.steps)
    return Diagnosis(request, report, returncode, duration, request.root or request.cwd)


def run_diagnosis(request: Request, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> Diagnosis:
    """Run a checked request under the runtime once and read its report."""
    with scratch_dir() as tmp:  # removed by the run's supervisor if we are killed mid-run
        report_path = os.path.join(tmp, "report.json")
        result = run_runtime(request, report_path, stdout=stdout, stderr=stderr, scratch=(tmp,))
    returncode, timed_out, duration, report = result.returncode, result.timed_out, result.seconds, result.report
    root = request.root or request.cwd
    if timed_out:
        message = (f"timed out after {request.timeout:g} s; the script and every process it started were "
                   "stopped (--timeout S allows more)")
        return Diagnosis(request, Report(request.target, "timeout", steps=request.steps, message=message),
                         None, duration, root)
    if report is None:
        message = (f"the script ended (exit code {returncode}) before inplace-fix's runtime could write its "
                   "report")
        return Diagnosis(request, Report(request.target, "script-error", steps=request.steps, message=message),
                         returncode, duration, root)
    report = replace(report, script=request.target, steps=request.steps)
    return Diagnosis(request, report, returncode, duration, root)
