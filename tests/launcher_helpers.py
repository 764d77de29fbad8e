"""Drive the engine's launcher (`run_runtime`) on a script written to tmp_path, as the CLI would."""
from __future__ import annotations

import sys
from pathlib import Path

from inplace_fix.launcher import RunResult, run_runtime
from inplace_fix.request import Request


def request_for(script: Path, *, python: str = sys.executable, timeout: float = 300,
                steps: int = 3, root: Path | None = None) -> Request:
    return Request(script=str(script), python=python, timeout=timeout, steps=steps, cwd=str(script.parent),
                   root=str(root) if root else None)


def engine_run(script: Path, *options: str, python: str = sys.executable, timeout: float = 300,
               steps: int = 3) -> tuple[dict, RunResult]:
    """The merged report (as data) and the whole result; the script's output is discarded."""
    import io

    sink = io.StringIO()
    report = script.parent / ".ipf-test-report.json"
    result = run_runtime(request_for(script, python=python, timeout=timeout, steps=steps), str(report),
                         tuple(options), stdout=sink, stderr=sink)
    report.unlink(missing_ok=True)
    assert result.data is not None, f"no report; rc={result.returncode}\n{sink.getvalue()}"
    return dict(result.data), result
