"""The one place that starts the user's script: every run of the runtime goes through here.

Why one place: the diagnosis run, the reference run, each fixed run, the anomaly
fallback and the finite-difference runs all need the same things: the user's
interpreter (`--python`), the current directory, a session of its own so that the
whole process tree can be stopped, and the time left of `--timeout`. The runtime
never starts a process itself: the follow-up runs a report asks for (the anomaly
fallback, the float64 finite-difference runs) are started by `run_runtime`, within
the budget of the run that asked for them.

Each run goes through the supervisor (`supervisor.py`, started by path with our own
interpreter): it holds the deadline and ends the script's whole tree even when this
process is frozen or killed with SIGKILL, and tells us how the run ended on a pipe.
"""

from __future__ import annotations

import codecs
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import IO, Any

from inplace_fix import anomaly_fallback
from inplace_fix import finite_difference as fdiff
from inplace_fix.report import Report, read_runtime_json
from inplace_fix.request import LAUNCHER, Request
from inplace_fix.scratch import scratch_dir

__all__ = ["RunResult", "run_runtime", "finite_difference_check", "build_command", "run", "supervisor_command",
           "KILL_GRACE_S", "SUPERVISOR"]

KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL when the time is up
SUPERVISOR = Path(__file__).resolve().with_name("supervisor.py")  # run by path: it imports nothing of ours


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
    if request.overlay:  # every run of a verification, follow-ups included, sees the edited sources
        cmd += ["--overlay", request.overlay]
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
    """Copy as it comes (a multi-byte character split between reads stays whole); a sink that fails
    (a closed pipe downstream) is dropped, and the pipe still drained so the script never blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    read = pipe.read1 if hasattr(pipe, "read1") else pipe.read
    alive = True
    for chunk in iter(lambda: read(65536), b""):
        if alive:
            try:
                sink.write(decoder.decode(chunk))
                sink.flush()
            except Exception:  # noqa: BLE001 - whatever the sink's trouble, keep draining
                alive = False
    if alive:
        try:
            sink.write(decoder.decode(b"", final=True))
            sink.flush()
        except Exception:  # noqa: BLE001
            pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def supervisor_command(command: list[str], timeout: float, status_fd: int,
                       scratch: Sequence[str | os.PathLike[str]] = ()) -> list[str]:
    """`command` under the supervisor (codemod/supervisor.py, its usage is there), run by our own interpreter."""
    cmd = [sys.executable, "-I", "-S", str(SUPERVISOR), "--timeout", repr(max(0.0, timeout)),
           "--grace", repr(KILL_GRACE_S), "--parent", str(os.getpid()), "--status-fd", str(status_fd)]
    for folder in scratch:
        cmd += ["--scratch", os.fspath(folder)]
    return cmd + ["--", *command]


def run(request: Request, report_path: str, stdout: IO[str] | None = None,
        stderr: IO[str] | None = None, options: tuple[str, ...] = (), *,
        timeout: float | None = None, quiet: bool = False,
        scratch: Sequence[str | os.PathLike[str]] = ()) -> tuple[int | None, bool, float]:
    """Run the launcher once, no follow-ups; (returncode or None, timed out, seconds).

    The script's stdout goes to `stdout` and its stderr to `stderr` (our own streams
    by default; nowhere, stdin included, when `quiet`: a follow-up run's output is not
    the user's). It gets `timeout` seconds (default `request.timeout`). On POSIX the
    supervisor (codemod/supervisor.py) runs it and keeps the deadline even if we are
    frozen or killed; it ends the script's whole process tree on timeout, on Ctrl-C,
    when we die, and when the script exits leaving children behind, and it removes the
    `scratch` folders the run uses if we die before we can.
    """
    if quiet:
        stdin, (out_fd, out_copy), (err_fd, err_copy) = (subprocess.DEVNULL, (subprocess.DEVNULL, None),
                                                         (subprocess.DEVNULL, None))
    else:
        stdin = None
        out_fd, out_copy = _target_fd(stdout if stdout is not None else sys.stdout)
        err_fd, err_copy = _target_fd(stderr if stderr is not None else sys.stderr)
    budget = request.timeout if timeout is None else max(0.0, timeout)
    started = time.monotonic()
    command = build_command(request, report_path, options)
    if os.name != "posix":
        returncode, timed_out = _run_direct(command, request.cwd, stdin, (out_fd, out_copy), (err_fd, err_copy),
                                            budget)
        return returncode, timed_out, time.monotonic() - started
    status_r, status_w = os.pipe()
    try:
        proc = subprocess.Popen(supervisor_command(command, budget, status_w, scratch), cwd=request.cwd,
                                stdin=stdin, stdout=out_fd, stderr=err_fd, pass_fds=(status_w,),
                                start_new_session=True)
    except BaseException:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)
    pumps = _start_pumps(proc, out_copy, err_copy)
    try:
        _wait_for_supervisor(proc, budget)
    finally:
        for pump in pumps:
            pump.join(timeout=5)
        status = _read_status(status_r, finished=proc.poll() is not None)
    if status is None:  # the supervisor died without a word (killed): its exit code is all there is
        return proc.returncode, False, time.monotonic() - started
    timed_out = bool(status.get("timed_out"))
    returncode = status.get("returncode")
    return (None if timed_out else returncode), timed_out, time.monotonic() - started


def _start_pumps(proc: subprocess.Popen, out_copy: IO[str] | None, err_copy: IO[str] | None) -> list[threading.Thread]:
    pumps = [threading.Thread(target=_pump, args=(pipe, sink), daemon=True)
             for pipe, sink in ((proc.stdout, out_copy), (proc.stderr, err_copy)) if sink is not None]
    for pump in pumps:
        pump.start()
    return pumps


def _wait_for_supervisor(proc: subprocess.Popen, budget: float) -> None:
    """The supervisor keeps the deadline; we wait a little longer, and stop it only if it hangs or
    we are interrupted (Ctrl-C is passed on as SIGINT, anything else as SIGTERM)."""
    backstop = budget + 3 * KILL_GRACE_S + 10
    try:
        proc.wait(timeout=backstop)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    except BaseException as exc:
        proc.send_signal(signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
        try:
            proc.wait(timeout=3 * KILL_GRACE_S + 5)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


def _read_status(fd: int, finished: bool) -> dict[str, Any] | None:
    """The supervisor's one JSON line (see codemod/supervisor.py), or None if it wrote none (or, while
    it still runs, after a second Ctrl-C, has not written it yet)."""
    try:
        if not finished:
            os.set_blocking(fd, False)
        with os.fdopen(fd, "rb") as pipe:
            line = pipe.read(65536) or b""
        data = json.loads(line.decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _run_direct(command: list[str], cwd: str, stdin: Any, out: tuple[Any, IO[str] | None],
                err: tuple[Any, IO[str] | None], budget: float) -> tuple[int | None, bool]:
    """Where there is no supervisor (Windows): the script as our child, killed at the deadline."""
    proc = subprocess.Popen(command, cwd=cwd, stdin=stdin, stdout=out[0], stderr=err[0])
    pumps = _start_pumps(proc, out[1], err[1])
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, True
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for pump in pumps:
            pump.join(timeout=5)
    return proc.returncode, False


def run_runtime(request: Request, report_path: str, options: tuple[str, ...] = (),
                stdout: IO[str] | None = None, stderr: IO[str] | None = None,
                deadline: float | None = None, *, scratch: Sequence[str | os.PathLike[str]] = ()) -> RunResult:
    """Run the runtime once, then the follow-up runs its report asks for, all before one deadline.

    `deadline` is a `time.monotonic()` value (default: `request.timeout` from now). The
    follow-ups: the float64 finite-difference runs when `options` has --fd-check and the
    gradients differ from the reference's (result at `verification.fd_check`), the
    anomaly-mode re-run when a problem lacks a site only that mode gives (unless the run
    was --anomaly or --no-fallback; how it went at the report's `anomaly_fallback`), and
    the dispatch-mode re-run when a saved tensor's writer went unnamed (a write inside a
    torch function; unless --no-fallback; at `dispatch_fallback`). `scratch`: the caller's
    folders these runs use (the report's, say); their supervisors remove them if we are killed.
    """
    started = time.monotonic()
    deadline = started + request.timeout if deadline is None else deadline
    options = tuple(options)
    scratch = tuple(scratch)
    returncode, timed_out, _ = run(request, report_path, stdout, stderr, options, timeout=deadline - started,
                                   scratch=scratch)
    data = read_runtime_json(report_path)
    if data is not None and not timed_out:
        data = _follow_ups(request, data, options, deadline, scratch)
    report = None if data is None else Report.from_json(data, request.cwd)
    return RunResult(report, returncode, "", time.monotonic() - started, timed_out, data)


def _follow_ups(request: Request, data: dict[str, Any], options: tuple[str, ...], deadline: float,
                scratch: tuple[str | os.PathLike[str], ...] = ()) -> dict[str, Any]:
    """`data` with what the follow-up runs found merged in (the runtime's own root for them)."""
    request = replace(request, root=str(data.get("root") or request.root or "") or None)
    verification = data.get("verification")
    if ("--fd-check" in options and isinstance(verification, dict) and verification.get("backward_ok")
            and not verification.get("grads_equal")):
        check = finite_difference_check(request, deadline=deadline, scratch=scratch)
        data = {**data, "verification": {**verification, "fd_check": check}}
    if (not request.anomaly and "--anomaly" not in options and "--no-fallback" not in options
            and anomaly_fallback.needed(data)):
        child, why = _child(replace(request, anomaly=True), anomaly_fallback.OPTIONS, deadline,
                            "the anomaly-mode re-run", scratch)
        if child is None:
            data = {**data, "anomaly_fallback": {"ran": False, "why": why}}
        else:
            data = {**anomaly_fallback.merge(data, child), "anomaly_fallback": {"ran": True, "why": None}}
    if "--no-fallback" not in options and "--dispatch-writes" not in options and anomaly_fallback.dispatch_needed(data):
        data = _dispatch_follow_up(request, data, options, deadline, scratch)
    return data


def _dispatch_follow_up(request: Request, data: dict[str, Any], options: tuple[str, ...],
                        deadline: float, scratch: tuple[str | os.PathLike[str], ...] = ()) -> dict[str, Any]:
    """The re-run with the dispatch-mode pass that names a write made inside a torch function, merged."""
    what = "the dispatch-mode re-run"
    child, why = _child(request, anomaly_fallback.dispatch_options(options), deadline, what, scratch)
    if child is None:
        return {**data, "dispatch_fallback": {"ran": False, "why": why}}
    merged, named = anomaly_fallback.merge_dispatch(data, child)
    why = None if named else f"{what} saw no write to the saved tensor either"
    return {**merged, "dispatch_fallback": {"ran": True, "why": why}}


def finite_difference_check(request: Request, *, step: float = fdiff.STEP, deadline: float | None = None,
                            scratch: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """Two float64 runs of the script, nudged by +step and -step, compared: the `fd_check` block."""
    deadline = time.monotonic() + request.timeout if deadline is None else deadline
    nudged = replace(request, steps=1, anomaly=False)
    runs = []
    for h in (step, -step):
        data, why = _child(nudged, fdiff.nudge_options(h), deadline, "the float64 runs", tuple(scratch))
        if data is None:
            return {"available": False, "why": why}
        runs.append(data)
    return fdiff.compare(runs[0], runs[1], step)


def _child(request: Request, options: tuple[str, ...], deadline: float, what: str,
           scratch: tuple[str | os.PathLike[str], ...] = ()) -> tuple[dict[str, Any] | None, str | None]:
    """A follow-up run's report, or None and why (no time left, stopped at the deadline, no report)."""
    left = deadline - time.monotonic()
    budget = f"--timeout {request.timeout:g} s"
    if left <= 0:
        return None, f"{what} did not run: no time was left of {budget}"
    with scratch_dir() as tmp:
        path = os.path.join(tmp, "report.json")
        returncode, timed_out, _ = run(request, path, options=options, timeout=left, quiet=True,
                                       scratch=(*scratch, tmp))
        if timed_out:
            return None, f"{what} stopped when {budget} ran out"
        data = read_runtime_json(path)
    return data, None if data is not None else f"{what} wrote no report (exit {returncode})"
