"""Shared helpers of the runtime tests: write a script, run launch.py on it, read the report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "codemod" / "runtime" / "launch.py"


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle` (tests never hard-code numbers)."""
    count = 0
    for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in text:
            count += 1
            if count == nth:
                return i
    raise AssertionError(f"{needle!r} not in {path}")


def launch(script: Path, *options: str, args: tuple = (), cwd: Path | None = None,
           module: str | None = None, timeout: int = 300) -> tuple[dict, subprocess.CompletedProcess]:
    report = (cwd or script.parent) / ".ipf-test-report.json"
    target = ["-m", module] if module else [str(script)]
    cmd = [sys.executable, str(LAUNCH), "--report", str(report), *options, "--", *target, *args]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, cwd=str(cwd or script.parent), capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert report.exists(), f"no report; rc={proc.returncode}\n{proc.stderr}"
    data = json.loads(report.read_text(encoding="utf-8"))
    report.unlink()
    return data, proc
