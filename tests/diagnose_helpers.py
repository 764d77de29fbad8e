"""Shared by the diagnose tests: run the real `inplace-fix` CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAUNCHER = REPO / "codemod" / "runtime" / "launch.py"


def cli_command(console_script: bool = True) -> list[str]:
    """The installed `inplace-fix` console script, else its entry point (`inplace_fix.cli:main`) run by
    this interpreter, which skips a version-manager shim's start-up cost where many runs add up."""
    script = shutil.which("inplace-fix") if console_script else None
    if script:
        return [script]
    return [sys.executable, "-c", "import sys; from inplace_fix.cli import main; sys.argv[0] = 'inplace-fix'; main()"]


def run_cli(*args: str, cwd: str | Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None, console_script: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([*cli_command(console_script), *args], cwd=str(cwd or REPO), capture_output=True, text=True,
                          timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
