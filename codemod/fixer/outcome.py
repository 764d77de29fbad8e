"""What one `--apply` run did, as a value: enough for the JSON report and the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from inplace_fix.exit_codes import exit_code_for
from inplace_fix.fixer.model import Verdict
from inplace_fix.journal import Recovered
from inplace_fix.report import Problem, Report, Round

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """The end of --apply: status, every problem of every round, what was written or restored."""

    script: str  # the target as the user named it
    cwd: str  # paths in JSON are relative to it
    status: str  # clean | fixed | unfixable | not-verified | script-error | timeout
    problems: tuple[Problem, ...] = ()
    rounds: tuple[Round, ...] = ()
    verification: Mapping[str, Any] | None = None
    verdict: Verdict | None = None
    files: tuple[str, ...] = ()  # files left changed (only when fixed)
    restored: tuple[str, ...] = ()  # files rolled back
    summary: str = ""
    why: str = ""
    first_report: Report | None = None  # the diagnosis (reference) run's report
    script_error: Mapping[str, Any] | None = None
    output: str = ""  # the script's output in the diagnosis run
    recovered: tuple[Recovered, ...] = ()  # what an earlier run that died had left, undone first

    @property
    def exit_code(self) -> int:
        return int(exit_code_for(self.status))

    def verification_json(self) -> dict[str, Any] | None:
        """The runtime's comparison, with the verifier's verdict folded in."""
        if not self.verification:
            return None
        out = dict(self.verification)
        if self.verdict is not None:
            out.update(method=self.verdict.method, values_compared=self.verdict.values_compared,
                       verified=self.verdict.verified, note=self.verdict.why)
        out.setdefault("verified", self.status == "fixed")
        return out

    def report(self) -> Report:
        problems = self.problems or (self.first_report.problems if self.first_report else ())
        first = self.first_report
        return Report(script=self.script, status=self.status, problems=problems,
                      verification=self.verification_json(),
                      backward_calls=first.backward_calls if first else 0,
                      steps=first.steps if first else None, script_error=self.script_error,
                      rounds=self.rounds, files_changed=self.files, restored=self.restored,
                      why=self.why, summary=self.summary, applied=True)

    def to_json(self) -> dict[str, Any]:
        return self.report().to_json(self.cwd)
