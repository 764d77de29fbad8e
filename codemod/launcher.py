"""The one place that starts the user's script: every run of the runtime goes through here.

Why one place: the diagnosis run, the reference run, each fixed run, the anomaly
fallback and the finite-difference runs all need the same things: the user's
interpreter (`--python`), the current directory, a session of its own so that the
whole process tree can be stopped, and the time left of `--timeout`. The runtime
never starts a process itself: the follow-up runs a report asks for (the anomaly
fallback, the float64 finite-difference runs) are started by `run_runtime`, within
the budget of the run that asked for them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any

from inplace_fix import anomaly_fallback
from inplace_fix import finite_difference as fdiff
from inplace_fix.report import Report, read_runtime_json
from inplace_fix.request import LAUNCHER, Request

__all__ = ["RunResult", "run_runtime", "finite_difference_check", "build_command", "run", "KILL_GRACE_S"]

KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL when the time is up


@dataclass(frozen=True)
class RunResult:
    """One runtime run with its follow-ups: the parsed report (None if none was written), how it went.

    `data` is the runtime's report as merged (fallback sites, `verification.fd_check`);
    `seconds` counts the follow-up runs too; `timed_out` is about the run itself (a
    follow-up stopped by the budget is said in the report instead).
    """

    report: Report | None
    returncode: int | None
    output: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    data: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def build_command(request: Request, report_path: str, options: tuple[str, ...] = ()) -> list[str]:
    """The command line that starts runtime/launch.py on the target (its usage is in that file)."""
    cmd = [request.python, str(LAUNCHER), "--report", report_path, "--steps", str(request.steps)]
    if request.root:
        cmd += ["--root", request.root]
    if request.anomaly:
        cmd.append("--anomaly")
    cmd += list(options)
    cmd.append("--")
    if request.module:
        cmd += ["-m", request.module]
    else:
        cmd.append(request.script or "")
    return cmd + list(request.args)


def _target_fd(stream: IO[str] | None) -> tuple[int | None, IO[str] | None]:
    """Inherit the stream's file descriptor when it has one; else pipe and copy (CliRunner, notebooks)."""
    if stream is None:
        return None, None
    try:
        stream.flush()
        return stream.fileno(), None
    except (AttributeError, OSError, ValueError):
        return subprocess.PIPE, stream


def _pump(pipe: IO[bytes], sink: IO[str]) -> None:
    for chunk in iter(lambda: pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536), b""):
        sink.write(chunk.decode("utf-8", "replace"))
        sink.flush()


def _stop(proc: subprocess.Popen, first: int, posix: bool) -> None:
    """Send `first` to the script's whole process group, then SIGKILL after a grace period."""
    if posix:
        _kill_group(proc.pid, first)
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.wait()


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(request: Request, report_path: str, stdout: IO[str] | None = None,
        stderr: IO[str] | None = None, options: tuple[str, ...] = (), *,
        timeout: float | None = None, quiet: bool = False) -> tuple[int | None, bool, float]:
    """Run the launcher once, no follow-ups; (returncode or None, timed out, seconds).

    The script's stdout goes to `stdout` and its stderr to `stderr` (our own streams
    by default; nowhere, stdin included, when `quiet`: a follow-up run's output is not
    the user's). It gets `timeout` seconds (default `request.timeout`); its whole
    process group is stopped on timeout, on Ctrl-C, and when the script exits leaving
    children behind.
    """
    if quiet:
        stdin, (out_fd, out_copy), (err_fd, err_copy) = (subprocess.DEVNULL, (subprocess.DEVNULL, None),
                                                         (subprocess.DEVNULL, None))
    else:
        stdin = None
        out_fd, out_copy = _target_fd(stdout if stdout is not None else sys.stdout)
        err_fd, err_copy = _target_fd(stderr if stderr is not None else sys.stderr)
    started = time.monotonic()
    posix = os.name == "posix"
    proc = subprocess.Popen(build_command(request, report_path, options), cwd=request.cwd, stdin=stdin,
                            stdout=out_fd, stderr=err_fd, start_new_session=posix)
    pumps = [threading.Thread(target=_pump, args=(pipe, sink), daemon=True)
             for pipe, sink in ((proc.stdout, out_copy), (proc.stderr, err_copy)) if sink is not None]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=request.timeout if timeout is None else max(0.0, timeout))
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc, signal.SIGTERM, posix)
    except BaseException:  # Ctrl-C: the script is in its own session, so pass it on
        _stop(proc, signal.SIGINT, posix)
        raise
    finally:
        if posix:  # leftovers (a child that outlived the script) go with it
            _kill_group(proc.pid, signal.SIGKILL)
        for pump in pumps:
            pump.join(timeout=5)
    return (None if timed_out else proc.returncode), timed_out, time.monotonic() - started


def run_runtime(request: Request, report_path: str, options: tuple[str, ...] = (),
                stdout: IO[str] | None = None, stderr: IO[str] | None = None,
                deadline: float | None = None) -> RunResult:
    """Run the runtime once, then the follow-up runs its report asks for, all before one deadline.

    `deadline` is a `time.monotonic()` value (default: `request.timeout` from now). The
    follow-ups: the float64 finite-difference runs when `options` has --fd-check and the
    gradients differ from the reference's (result at `verification.fd_check`), the
    anomaly-mode re-run when a problem lacks a site only that mode gives (unless the run
    was --anomaly or --no-fallback; how it went at the report's `anomaly_fallback`), and
    the dispatch-mode re-run when a saved tensor's writer went unnamed (a write inside a
    torch function; unless --no-fallback; at `dispatch_fallback`).
    """
    started = time.monotonic()
    deadline = started + request.timeout if deadline is None else deadline
    options = tuple(options)
    returncode, timed_out, _ = run(request, report_path, stdout, stderr, options, timeout=deadline - started)
    data = read_runtime_json(report_path)
    if data is not None and not timed_out:
        data = _follow_ups(request, data, options, deadline)
    report = None if data is None else Report.from_json(data, request.cwd)
    return RunResult(report, returncode, "", time.monotonic() - started, timed_out, data)


def _follow_ups(request: Request, data: dict[str, Any], options: tuple[str, ...], deadline: float) -> dict[str, Any]:
    """`data` with what the follow-up runs found merged in (the runtime's own root for them)."""
    request = replace(request, root=str(data.get("root") or request.root or "") or None)
    verification = data.get("verification")
    if ("--fd-check" in options and isinstance(verification, dict) and verification.get("backward_ok")
            and not verification.get("grads_equal")):
        check = finite_difference_check(request, deadline=deadline)
        data = {**data, "verification": {**verification, "fd_check": check}}
    if (not request.anomaly and "--anomaly" not in options and "--no-fallback" not in options
            and anomaly_fallback.needed(data)):
        child, why = _child(replace(request, anomaly=True), anomaly_fallback.OPTIONS, deadline,
                            "the anomaly-mode re-run")
        if child is None:
            data = {**data, "anomaly_fallback": {"ran": False, "why": why}}
        else:
            data = {**anomaly_fallback.merge(data, child), "anomaly_fallback": {"ran": True, "why": None}}
    if "--no-fallback" not in options and "--dispatch-writes" not in options and anomaly_fallback.dispatch_needed(data):
        data = _dispatch_follow_up(request, data, options, deadline)
    return data


def _dispatch_follow_up(request: Request, data: dict[str, Any], options: tuple[str, ...],
                        deadline: float) -> dict[str, Any]:
    """The re-run with the dispatch-mode pass that names a write made inside a torch function, merged."""
    what = "the dispatch-mode re-run"
    child, why = _child(request, anomaly_fallback.dispatch_options(options), deadline, what)
    if child is None:
        return {**data, "dispatch_fallback": {"ran": False, "why": why}}
    merged, named = anomaly_fallback.merge_dispatch(data, child)
    why = None if named else f"{what} saw no write to the saved tensor either"
    return {**merged, "dispatch_fallback": {"ran": True, "why": why}}


def finite_difference_check(request: Request, *, step: float = fdiff.STEP,
                            deadline: float | None = None) -> dict[str, Any]:
    """Two float64 runs of the script, nudged by +step and -step, compared: the `fd_check` block."""
    deadline = time.monotonic() + request.timeout if deadline is None else deadline
    nudged = replace(request, steps=1, anomaly=False)
    runs = []
    for h in (step, -step):
        data, why = _child(nudged, fdiff.nudge_options(h), deadline, "the float64 runs")
        if data is None:
            return {"available": False, "why": why}
        runs.append(data)
    return fdiff.compare(runs[0], runs[1], step)


def _child(request: Request, options: tuple[str, ...], deadline: float,
           what: str) -> tuple[dict[str, Any] | None, str | None]:
    """A follow-up run's report, or None and why (no time left, stopped at the deadline, no report)."""
    left = deadline - time.monotonic()
    budget = f"--timeout {request.timeout:g} s"
    if left <= 0:
        return None, f"{what} did not run: no time was left of {budget}"
    with tempfile.TemporaryDirectory(prefix="inplace-fix-") as tmp:
        path = os.path.join(tmp, "report.json")
        returncode, timed_out, _ = run(request, path, options=options, timeout=left, quiet=True)
        if timed_out:
            return None, f"{what} stopped when {budget} ran out"
        data = read_runtime_json(path)
    return data, None if data is not None else f"{what} wrote no report (exit {returncode})"
