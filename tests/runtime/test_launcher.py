"""The launcher owns every run: --python and the --timeout budget reach the follow-up runs too.

The follow-ups (the anomaly fallback, the float64 finite-difference runs) used to be
started from inside the runtime with its own interpreter, a fixed 600 s and no
process-group kill; these tests pin the engine-side behaviour.
"""
from __future__ import annotations

import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest

from inplace_fix.launcher import KILL_GRACE_S, finite_difference_check
from launcher_helpers import engine_run, request_for
from runtime_helpers import launch, line_of, write

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /bin/sh and /proc")

# A view made under no_grad and modified in place: only the anomaly re-run (--track-views) says where.
VIEW = """
    import torch
    {hang}
    lin = torch.nn.Linear(6, 8)
    feats = lin(torch.randn(5, 6))
    with torch.no_grad():
        head = feats[:, :4]
    head.mul_(2.0)
    feats.sum().backward()
"""
# A `.data` write the forward reads again (see test_runtime_finite_difference.py), and its visible fix.
SILENT = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    {hang}
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(4, 6), nn.Linear(6, 1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    h = torch.sigmoid(fc1(x))
    h.data.mul_(0.5)
    F.mse_loss(fc2(h), y).backward()
"""
VISIBLE = SILENT.replace("h.data.mul_(0.5)", "h = h.mul(0.5)")

# Hang (with a grandchild that would outlive us) only in the follow-up run `when` describes.
HANG = """
    if {when}:
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open({pids!r}, "w") as fh:
            fh.write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
"""


def _hang(when: str, pids: Path) -> str:
    """HANG, indented to sit at a `{hang}` of the script templates above."""
    return textwrap.indent(textwrap.dedent(HANG).strip().format(when=when, pids=str(pids)), "    ").lstrip()


def _wrapper(folder: Path) -> tuple[Path, Path]:
    """An interpreter that logs each invocation, then runs the real one: counts the launches."""
    log, python = folder / "launches.log", folder / "logging-python"
    python.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return python, log


def _launches(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def _alive(pid: int) -> bool:
    """Running, not a zombie (a reparented zombie may wait for a reaper that a container lacks)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _assert_all_gone(pids: Path) -> None:
    started = [int(p) for p in pids.read_text(encoding="utf-8").split()]
    assert len(started) == 2
    until = time.monotonic() + 5
    while any(_alive(p) for p in started) and time.monotonic() < until:
        time.sleep(0.1)
    assert not [p for p in started if _alive(p)], "a follow-up run's process outlived the tool"


def test_python_reaches_the_anomaly_fallback_run(tmp_path: Path) -> None:
    python, log = _wrapper(tmp_path)
    s = write(tmp_path, "v.py", VIEW.format(hang=""))
    rep, result = engine_run(s, python=str(python))
    launches = _launches(log)
    assert len(launches) == 2, launches  # the old runtime started the re-run with its own sys.executable
    assert "--anomaly" not in launches[0].split() and {"--anomaly", "--track-views"} <= set(launches[1].split())
    p = rep["problems"][0]
    assert p["view_created_at"]["line"] == line_of(s, "head = feats") and p["detected_by"] == "anomaly"
    assert rep["anomaly_fallback"] == {"ran": True, "why": None}
    assert result.report is not None and result.report.problems[0].view_created_at is not None


def test_python_reaches_the_finite_difference_runs(tmp_path: Path) -> None:
    python, log = _wrapper(tmp_path)
    original, fixed = write(tmp_path, "orig.py", SILENT.format(hang="")), write(tmp_path, "fixed.py",
                                                                             VISIBLE.format(hang=""))
    rec = tmp_path / "ref.pt"
    launch(original, "--record", str(rec), "--clone-on-write")
    rep, _ = engine_run(fixed, "--compare", str(rec), "--fd-check", python=str(python))
    assert rep["verification"]["fd_check"]["ok"] is True, rep["verification"]
    launches = _launches(log)
    assert len(launches) == 3, launches  # the fixed run, then +h and -h with the same interpreter
    assert [line.split()[line.split().index("--fd-nudge") + 1][0] for line in launches[1:]] == ["1", "-"]


def test_a_hanging_fallback_run_is_stopped_within_the_timeout(tmp_path: Path) -> None:
    pids, budget = tmp_path / "pids", 15.0
    s = write(tmp_path, "v.py", VIEW.format(hang=_hang("torch.is_anomaly_enabled()", pids)))
    started = time.monotonic()
    rep, result = engine_run(s, timeout=budget)
    elapsed = time.monotonic() - started
    assert elapsed < budget + KILL_GRACE_S + 5, elapsed  # the old re-run waited 600 s
    assert not result.timed_out and rep["problems"][0]["kind"] == "view-modified"
    assert rep["problems"][0].get("view_created_at") is None
    assert rep["anomaly_fallback"] == {
        "ran": False, "why": "the anomaly-mode re-run stopped when --timeout 15 s ran out"}
    _assert_all_gone(pids)


def test_hanging_finite_difference_runs_are_stopped_within_the_timeout(tmp_path: Path) -> None:
    python, log = _wrapper(tmp_path)
    pids, budget = tmp_path / "pids", 15.0
    original = write(tmp_path, "orig.py", SILENT.format(hang=""))
    fixed = write(tmp_path, "fixed.py",
                  VISIBLE.format(hang=_hang("torch.get_default_dtype() == torch.float64", pids)))
    rec = tmp_path / "ref.pt"
    launch(original, "--record", str(rec), "--clone-on-write")
    started = time.monotonic()
    rep, result = engine_run(fixed, "--compare", str(rec), "--fd-check", python=str(python), timeout=budget)
    elapsed = time.monotonic() - started
    assert elapsed < budget + KILL_GRACE_S + 5, elapsed
    assert not result.timed_out
    assert rep["verification"]["fd_check"] == {
        "available": False, "why": "the float64 runs stopped when --timeout 15 s ran out"}
    assert len(_launches(log)) == 2  # the -h run is not started once the budget is spent
    _assert_all_gone(pids)


def test_no_follow_up_starts_once_the_budget_is_spent(tmp_path: Path) -> None:
    python, log = _wrapper(tmp_path)
    s = write(tmp_path, "fixed.py", VISIBLE.format(hang=""))
    check = finite_difference_check(request_for(s, python=str(python), timeout=7), deadline=time.monotonic())
    assert check == {"available": False, "why": "the float64 runs did not run: no time was left of --timeout 7 s"}
    assert _launches(log) == []


def test_the_supervisor_relays_how_the_script_ended(tmp_path: Path) -> None:
    from inplace_fix.launcher import run

    killed = write(tmp_path, "killed.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    returncode, timed_out, _ = run(request_for(killed, timeout=60), str(tmp_path / "r.json"), quiet=True)
    assert (returncode, timed_out) == (-9, False)  # as if we had started the script ourselves
    hangs = write(tmp_path, "hangs.py", "import time\ntime.sleep(600)\n")
    returncode, timed_out, seconds = run(request_for(hangs, timeout=60), str(tmp_path / "r.json"), quiet=True,
                                         timeout=3)
    assert (returncode, timed_out) == (None, True) and seconds < 3 + KILL_GRACE_S + 3
