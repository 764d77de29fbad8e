"""One runtime run for the fixer: codemod.diagnose's launcher plus the verifier's flags.

`codemod.diagnose.run` owns the subprocess (the user's interpreter, its own session,
the timeout that stops the whole process tree); we add --record/--compare/
--clone-on-write/--fd-check and read the JSON report back. Torch stays on that side.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codemod.diagnose import Request
from codemod.diagnose import run as launch


@dataclass(frozen=True)
class RunResult:
    """The runtime's report (None if it wrote none), its exit status and the script's output."""

    report: dict[str, Any] | None
    returncode: int | None
    output: str
    seconds: float
    timed_out: bool = False


def flags(*, record: Path | None = None, compare: Path | None = None,
          clone_on_write: bool = False, fd_check: bool = False) -> tuple[str, ...]:
    """The verifier's launcher flags (spec "Runtime API")."""
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


def run(request: Request, report: Path, *, echo: bool = False, **verifier: Any) -> RunResult:
    """Run once; the script's output is captured (and copied to stderr when `echo`)."""
    request = replace(request, extra_launcher_args=(*request.extra_launcher_args, *flags(**verifier)))
    sink = io.StringIO()
    returncode, timed_out, seconds = launch(request, str(report), stdout=sink, stderr=sink)
    output = sink.getvalue()
    if echo and output:
        sys.stderr.write(output)
        sys.stderr.flush()
    return RunResult(_read(report), returncode, output, seconds, timed_out)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
