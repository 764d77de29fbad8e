"""Run launch.py once more in a child process and read its report back.

Why: two checks need a second run of the same script with other options (the anomaly
fallback, the float64 finite-difference runs); both want the same thing: the child's
output out of the user's terminal, a bounded wait, and the report or nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")


def run_launcher(options: list[str], target: list[str], timeout: float = 600) -> dict:
    """The child's report for `launch.py --report TMP OPTIONS -- TARGET`; raises if it wrote none."""
    fd, path = tempfile.mkstemp(suffix=".json", prefix="ipf-child-")
    os.close(fd)
    cmd = [sys.executable, LAUNCHER, "--report", path, *options, "--", *target]
    try:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout, check=False)
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
