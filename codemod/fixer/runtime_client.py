"""One runtime run for the fixer: `inplace_fix.launcher.run_runtime` plus the verifier's flags.

The launcher owns the subprocess and every follow-up run (the user's interpreter, its
own session, the --timeout budget that stops the whole process tree); here we only
add --record/--compare/--clone-on-write/--fd-check and capture the script's output.
"""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from pathlib import Path

from inplace_fix.launcher import RunResult, run_runtime
from inplace_fix.request import Request

__all__ = ["RunResult", "flags", "run"]


def flags(*, record: Path | None = None, compare: Path | None = None,
          clone_on_write: bool = False, fd_check: bool = False) -> tuple[str, ...]:
    """The verifier's flags for runtime/launch.py."""
    out: list[str] = []
    if record is not None:
        out += ["--record", str(record)]
    if compare is not None:
        out += ["--compare", str(compare)]
    if clone_on_write:
        out.append("--clone-on-write")
    if fd_check:
        out.append("--fd-check")
    return tuple(out)


def run(request: Request, report: Path, *, echo: bool = False, record: Path | None = None,
        compare: Path | None = None, clone_on_write: bool = False, fd_check: bool = False) -> RunResult:
    """Run once (with its follow-ups); the script's output is captured (and copied to stderr when `echo`)."""
    sink = io.StringIO()
    result = run_runtime(request, str(report), flags(record=record, compare=compare,
                                                      clone_on_write=clone_on_write, fd_check=fd_check),
                         stdout=sink, stderr=sink)
    output = sink.getvalue()
    if echo and output:
        sys.stderr.write(output)
        sys.stderr.flush()
    return replace(result, output=output)
