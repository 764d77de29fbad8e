"""The engine side of a diagnose run: launch the runtime, wait, read its report.

The script runs in a subprocess of the user's interpreter (or `--python`), from the
current directory, in a session of its own so that `--timeout` can stop the whole
process tree (DataLoader workers, anything the script spawned). Torch never enters
this process: everything we learn comes from the runtime's JSON report file.

The result is a frozen `Diagnosis`; `report_dict` turns it into DESIGN.md's JSON
report (paths relative to the current directory when they lie under it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from codemod import __version__

__all__ = [
    "InputError", "Request", "Site", "Problem", "FixProposal", "Diagnosis",
    "LAUNCHER", "find_root", "check_request", "build_command", "run", "diagnose",
    "propose_fix", "report_dict", "display_path",
]

LAUNCHER = Path(__file__).resolve().parent / "runtime" / "launch.py"
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL when the time is up


class InputError(Exception):
    """Bad input (missing file, syntax error, bad interpreter): exit 2, one line, nothing run."""


@dataclass(frozen=True)
class Request:
    """What to run and how; paths are as the user gave them, resolved by `check_request`."""

    script: str | None = None  # a file path, or None with `module`
    module: str | None = None  # `run -m pkg.mod`
    args: tuple[str, ...] = ()
    steps: int = 3
    timeout: float = 600.0
    python: str = sys.executable
    root: str | None = None  # None: git top-level above the script, else its folder
    anomaly: bool = False
    cwd: str = field(default_factory=os.getcwd)
    extra_launcher_args: tuple[str, ...] = ()  # --record/--compare/--clone-on-write (fixer)

    @property
    def target(self) -> str:
        """How the user named what runs (for messages and the report's `script`)."""
        if self.module:
            return self.module
        return display_path(self.script or "", self.cwd)


@dataclass(frozen=True)
class Site:
    """A code location from the runtime; `path` absolute, `file` as shown to people."""

    file: str
    path: str
    line: int
    col: int | None
    code: str
    op: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, cwd: str) -> "Site | None":
        if not isinstance(data, Mapping) or data.get("line") is None:
            return None
        raw = str(data.get("file") or "")
        path = raw if os.path.isabs(raw) else os.path.normpath(os.path.join(cwd, raw))
        col = data.get("col")
        return cls(file=display_path(path, cwd), path=path, line=int(data["line"]),
                   col=int(col) if isinstance(col, int) else None,
                   code=str(data.get("code") or ""), op=data.get("op"))


@dataclass(frozen=True)
class FixProposal:
    """The rewrite the fixer would make for one problem (dry run: shown, not written)."""

    rule: str
    file: str  # display path
    path: str  # absolute
    line: int
    col: int
    title: str
    diff: str


@dataclass(frozen=True)
class Problem:
    """One problem of the runtime's report, with the sites parsed and the fix proposed."""

    kind: str
    error: str | None
    tensor: Mapping[str, Any]
    saved_at: Site | None
    modified_at: Site | None
    construction_at: Site | None
    library_frames: tuple[Site, ...]
    view_created_at: Site | None
    rule: str | None
    needed_by: str | None
    raw: Mapping[str, Any]  # the runtime's problem, paths made relative (extensions pass through)
    fix: FixProposal | None = None
    why_unfixable: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """The outcome of one diagnose run."""

    request: Request
    status: str  # clean | found | script-error | timeout (the fixer adds fixed, unfixable, ...)
    problems: tuple[Problem, ...] = ()
    backward_calls: int = 0
    script_error: Mapping[str, Any] | None = None
    returncode: int | None = None
    duration: float = 0.0
    root: str = ""
    report: Mapping[str, Any] = field(default_factory=dict)  # the runtime's raw report
    message: str = ""  # why there is no report, when there is none


# ---------------------------------------------------------------- paths and input


def display_path(path: str | os.PathLike[str], cwd: str | None = None) -> str:
    """`path` relative to `cwd` when it lies under it (posix separators), else absolute."""
    cwd = cwd or os.getcwd()
    absolute = os.path.abspath(os.path.join(cwd, os.fspath(path)))
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive on Windows
        return absolute
    if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir:
        return absolute if rel != os.curdir else "."
    return rel.replace(os.sep, "/")


def find_root(start: str | os.PathLike[str]) -> str:
    """The git top-level above `start` (a folder), else `start` itself."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    return str(here)


def _check_syntax(path: Path) -> None:
    from codemod import fileio

    try:
        text = fileio.read_source(path).text
    except fileio.SourceError as exc:
        raise InputError(f"{display_path(path)}: {exc.reason}") from None
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f":{exc.lineno}" if exc.lineno else ""
        raise InputError(f"{display_path(path)}{where}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise InputError(f"{display_path(path)}: cannot compile: {exc}") from None


_PROBE = r"""
import importlib.util, importlib.machinery, os, sys
out = {"torch": importlib.util.find_spec("torch") is not None, "origin": None, "found": None}
mod = sys.argv[1]
if mod:
    parts = mod.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        spec = None
    found = spec is not None
    locs = list(spec.submodule_search_locations or []) if spec else []
    origin = spec.origin if spec else None
    for i, part in enumerate(parts[1:]):
        hit = None
        for loc in locs:
            pkg = os.path.join(loc, part)
            if os.path.isdir(pkg):
                hit = ([pkg], os.path.join(pkg, "__init__.py"))
                break
            for suffix in importlib.machinery.all_suffixes():
                if os.path.isfile(pkg + suffix):
                    hit = ([], pkg + suffix)
                    break
            if hit:
                break
        if hit is None:
            found = False
            break
        locs, origin = hit
    if found and locs:  # a package: python -m runs its __main__
        main = os.path.join(locs[0], "__main__.py")
        found, origin = os.path.isfile(main), main
    out["found"], out["origin"] = found, origin if found else None
print(repr(out))
"""


def _probe(python: str, module: str | None, cwd: str) -> dict[str, Any]:
    """Ask the target interpreter, without importing anything, whether torch (and the module) exist."""
    try:
        proc = subprocess.run([python, "-c", _PROBE, module or ""], cwd=cwd, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"--python {python}: cannot run it: {exc}") from None
    try:
        import ast

        return ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"--python {python}: not a working Python interpreter ({last})") from None


def check_request(request: Request) -> Request:
    """Validate the input before anything runs; returns the request with paths resolved.

    Raises InputError with a one-line reason: missing file, a folder, a syntax error,
    an interpreter that does not run or has no torch, a module that does not exist.
    """
    python = request.python
    if os.sep in python or (os.altsep and os.altsep in python):
        resolved = os.path.abspath(os.path.join(request.cwd, python))
        if not (os.path.isfile(resolved) and os.access(resolved, os.X_OK)):
            raise InputError(f"--python {python}: no such executable")
    else:
        resolved = shutil.which(python)
        if resolved is None:
            raise InputError(f"--python {python}: not found on PATH")
    python = resolved
    cwd = request.cwd
    if request.module is not None:
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", request.module):
            raise InputError(f"-m {request.module}: not a module name")
        probe = _probe(python, request.module, cwd)
        if not probe.get("found"):
            raise InputError(f"-m {request.module}: no module named {request.module!r} "
                             f"(searched from {display_path(cwd)} with {python})")
        origin = probe.get("origin")
        if origin and origin.endswith(".py"):
            _check_syntax(Path(origin))
        has_torch = bool(probe.get("torch"))
        root = request.root or find_root(cwd)
    else:
        script = Path(cwd, request.script or "")
        if not request.script or not script.exists():
            raise InputError(f"{request.script}: no such file")
        if script.is_dir():
            raise InputError(f"{request.script}: is a directory, not a script "
                             f"(use `inplace-fix run -m PACKAGE` for a package)")
        if not script.is_file():  # a FIFO or a device: reading it would block or never end
            raise InputError(f"{request.script}: not a regular file")
        _check_syntax(script)
        if os.path.realpath(python) == os.path.realpath(sys.executable):
            has_torch = importlib.util.find_spec("torch") is not None
        else:
            has_torch = bool(_probe(python, None, cwd).get("torch"))
        root = request.root or find_root(script.resolve().parent)
    if not has_torch:
        raise InputError(f"{python} has no torch installed (use --python to pick the interpreter "
                         "that runs your script)")
    if not os.path.isdir(root):
        raise InputError(f"--root {root}: no such directory")
    if not LAUNCHER.is_file():
        raise InputError(f"this installation has no runtime ({LAUNCHER} is missing)")
    return replace(request, python=python, root=os.path.abspath(os.path.join(cwd, root)))


# ---------------------------------------------------------------- running


def build_command(request: Request, report_path: str) -> list[str]:
    """The launcher command line (spec "Runtime API")."""
    cmd = [request.python, str(LAUNCHER), "--report", report_path, "--steps", str(request.steps)]
    if request.root:
        cmd += ["--root", request.root]
    if request.anomaly:
        cmd.append("--anomaly")
    cmd += list(request.extra_launcher_args)
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
        stderr: IO[str] | None = None) -> tuple[int | None, bool, float]:
    """Run the launcher once; (returncode or None, timed out, seconds).

    The script's stdout goes to `stdout` and its stderr to `stderr` (our own
    streams by default). The whole process group is stopped on timeout, on
    Ctrl-C, and when the script exits leaving children behind.
    """
    out_fd, out_copy = _target_fd(stdout if stdout is not None else sys.stdout)
    err_fd, err_copy = _target_fd(stderr if stderr is not None else sys.stderr)
    started = time.monotonic()
    posix = os.name == "posix"
    proc = subprocess.Popen(build_command(request, report_path), cwd=request.cwd, stdin=None,
                            stdout=out_fd, stderr=err_fd, start_new_session=posix)
    pumps = [threading.Thread(target=_pump, args=(pipe, sink), daemon=True)
             for pipe, sink in ((proc.stdout, out_copy), (proc.stderr, err_copy)) if sink is not None]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        proc.wait(timeout=request.timeout)
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


def diagnose(request: Request, stdout: IO[str] | None = None, stderr: IO[str] | None = None,
             propose: bool = True) -> Diagnosis:
    """Check the input, run the script under the runtime, read its report, propose fixes.

    Raises InputError before running anything when the input is bad.
    """
    request = check_request(request)
    with tempfile.TemporaryDirectory(prefix="inplace-fix-") as tmp:
        report_path = os.path.join(tmp, "report.json")
        returncode, timed_out, duration = run(request, report_path, stdout, stderr)
        raw: dict[str, Any] | None = None
        if os.path.exists(report_path):
            try:
                with open(report_path, encoding="utf-8") as handle:
                    raw = json.load(handle)
            except (OSError, ValueError):
                raw = None
    root = request.root or request.cwd
    if timed_out:
        return Diagnosis(request, "timeout", duration=duration, root=root, report=raw or {},
                         message=f"timed out after {request.timeout:g} s; the script and every process "
                                 "it started were stopped (--timeout S allows more)")
    if raw is None:
        return Diagnosis(request, "script-error", returncode=returncode, duration=duration, root=root,
                         message=f"the script ended (exit code {returncode}) before inplace-fix's "
                                 "runtime could write its report")
    return from_report(raw, request, returncode=returncode, duration=duration, propose=propose)


def from_report(raw: Mapping[str, Any], request: Request, returncode: int | None = None,
                duration: float = 0.0, propose: bool = True) -> Diagnosis:
    """A Diagnosis from the runtime's report (also used by tests with hand-written reports)."""
    cwd = request.cwd
    root = request.root or cwd
    problems = tuple(_problem(p, cwd) for p in raw.get("problems") or ())
    if propose:
        problems = tuple(_with_fix(p, root, cwd) for p in problems)
    status = str(raw.get("status") or ("found" if problems else "clean"))
    if problems and status == "clean":
        status = "found"
    script_error = raw.get("script_error")
    if status == "clean" and script_error:
        status = "script-error"
    return Diagnosis(request, status, problems, int(raw.get("backward_calls") or 0),
                     script_error if isinstance(script_error, Mapping) else None,
                     returncode, duration, root, raw)


def _relative_site(data: Any, cwd: str) -> Any:
    if isinstance(data, Mapping) and "file" in data and isinstance(data.get("file"), str):
        return {**data, "file": display_path(data["file"], cwd)}
    return data


def _needed_by(data: Mapping[str, Any]) -> str | None:
    """`needed by SigmoidBackward0 to compute the gradient of fc.weight`, from whatever the runtime gave."""
    value = data.get("needed_by")
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("needed by"):
            return value
        return f"needed by {value}" + _gradient_of(data.get("grad_of") or [])
    if isinstance(value, Mapping):
        node = value.get("node") or value.get("grad_fn") or value.get("name")
        leaves = value.get("leaves") or value.get("grad_of") or value.get("params") or []
        if isinstance(leaves, str):
            leaves = [leaves]
        return (f"needed by {node}" if node else "needed by backward") + _gradient_of(leaves)
    return None


def _gradient_of(leaves: Any, shown: int = 4) -> str:
    names = [str(x) for x in leaves] if isinstance(leaves, (list, tuple)) else []
    if not names:
        return ""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return " to compute the gradient of " + ", ".join(names[:shown]) + more


def _problem(data: Mapping[str, Any], cwd: str) -> Problem:
    from codemod.fixer.sites import SITE_KEYS, SITE_LIST_KEYS

    raw = dict(data)
    for key in SITE_KEYS:
        if key in raw:
            raw[key] = _relative_site(raw[key], cwd)
    frames = [f for f in raw.get("library_frames") or () if isinstance(f, Mapping)]
    for key in SITE_LIST_KEYS:
        if key in raw:
            raw[key] = [_relative_site(f, cwd) for f in raw.get(key) or () if isinstance(f, Mapping)]
    raw.setdefault("library_frames", [])
    needed = _needed_by(data)
    return Problem(
        kind=str(data.get("kind") or "saved-tensor-modified"),
        error=data.get("error"),
        tensor=dict(data.get("tensor") or {}),
        saved_at=Site.from_json(data.get("saved_at"), cwd),
        modified_at=Site.from_json(data.get("modified_at"), cwd),
        construction_at=Site.from_json(data.get("construction_at"), cwd),
        library_frames=tuple(s for s in (Site.from_json(f, cwd) for f in frames) if s),
        view_created_at=Site.from_json(data.get("view_created_at"), cwd),
        rule=data.get("rule"),
        needed_by=needed,
        raw=raw,
    )


# ---------------------------------------------------------------- the proposed fix

STEP_BETWEEN_ADVICE = (
    "optimizer.step() ran between a forward pass and a backward pass over it, and updated "
    "in place weights that backward still needs. No local rewrite keeps the training "
    "semantics, so choose one by hand: (1) run every backward pass first, then every "
    "step() -- e.g. `loss_a.backward(retain_graph=True, inputs=list(model_a.parameters()))`, "
    "`loss_b.backward(inputs=list(model_b.parameters()))`, then `opt_a.step(); opt_b.step()` "
    "(same losses, simultaneous updates); or (2) recompute the forward pass that feeds the "
    "second loss after the step (e.g. call D(fake) again after opt_D.step()): alternating "
    "updates, but that loss's value changes."
)


def _is_optimizer_step(problem: Problem) -> bool:
    frames = [f.path.replace(os.sep, "/") for f in problem.library_frames]
    if any("/torch/optim/" in f for f in frames):
        return True
    code = problem.modified_at.code if problem.modified_at else ""
    return bool(re.search(r"\.step\(\s*\)", code)) and not problem.rule


def _under(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(root)]) == os.path.realpath(root)
    except ValueError:
        return False


def _fix_site(problem: Problem) -> Site | None:
    """Where the rewrite goes: the construction of an in-place module, else the writing line."""
    if problem.rule == "IPF004" and problem.construction_at is not None:
        return problem.construction_at
    return problem.modified_at


def propose_fix(problem: Problem, root: str, cwd: str) -> tuple[FixProposal | None, str | None]:
    """(fix, why_unfixable) for one problem: the one place to swap in the fixer's planner."""
    try:  # the FIXER's planner wins when it exists
        from codemod.fixer import planner  # type: ignore[attr-defined]
    except ImportError:
        planner = None
    if planner is not None and hasattr(planner, "plan"):
        try:
            planned = planner.plan(problem, root=root, cwd=cwd)
        except Exception:  # noqa: BLE001 - a planner bug must not hide the diagnosis
            planned = None
        if isinstance(planned, tuple) and len(planned) == 2:
            return planned  # type: ignore[return-value]
    return _propose_locally(problem, root, cwd)


def _propose_locally(problem: Problem, root: str, cwd: str) -> tuple[FixProposal | None, str | None]:
    if _is_optimizer_step(problem):
        return None, STEP_BETWEEN_ADVICE
    site = _fix_site(problem)
    if site is None:
        return None, "the runtime could not name the line that wrote to the tensor; run again with --anomaly"
    if not _under(site.path, root):
        return None, (f"the in-place write is in {site.file}:{site.line}, outside the project root "
                      f"{display_path(root, cwd)}; inplace-fix never edits it: change `{site.code.strip()}` "
                      "by hand (its out-of-place form), or upgrade or patch the library")
    if not problem.rule:
        return None, (f"no automatic rewrite is known for `{site.code.strip()}`: make the operation out of "
                      "place (`x = x.add(y)` for `x.add_(y)`) or clone the saved tensor before it is "
                      "modified (`x = x.clone()`)")
    try:
        from transforms import api  # type: ignore[attr-defined]
        from transforms.registry import get_rule  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - rules missing or broken: still show the diagnosis
        return None, f"rule {problem.rule} applies, but the rewrite rules are not installed"
    try:
        from codemod import fileio

        source = fileio.read_source(site.path).text
    except Exception as exc:  # noqa: BLE001 - unreadable file: explain, do not crash
        return None, f"cannot read {site.file}: {getattr(exc, 'reason', exc)}"
    title = problem.rule
    try:
        rule = get_rule(problem.rule)
        title = f"{rule.message}" if getattr(rule, "message", "") else rule.name
    except Exception:  # noqa: BLE001 - unknown code
        pass
    try:
        position = api.locate(source, problem.rule, site.line, site.col)
        if position is None:
            return None, (f"rule {problem.rule} ({title}) applies, but no node it rewrites was found at "
                          f"{site.file}:{site.line}: change `{site.code.strip()}` by hand")
        result = api.rewrite(source, {problem.rule: [position]})
    except Exception as exc:  # noqa: BLE001 - a rule bug must not hide the diagnosis
        return None, f"rule {problem.rule} could not rewrite {site.file}:{site.line}: {exc}"
    if result.source == source:
        return None, (f"rule {problem.rule} ({title}) made no change at {site.file}:{site.line}: "
                      f"change `{site.code.strip()}` by hand")
    from codemod.render.diff import unified_diff

    diff = unified_diff(site.file, source, result.source)
    return FixProposal(problem.rule, site.file, site.path, position.line, position.col, title, diff), None


def _with_fix(problem: Problem, root: str, cwd: str) -> Problem:
    fix, why = propose_fix(problem, root, cwd)
    return replace(problem, fix=fix, why_unfixable=None if fix else why)


# ---------------------------------------------------------------- the JSON report


def problem_dict(problem: Problem) -> dict[str, Any]:
    """DESIGN.md's problem object, with the runtime's extra fields passed through."""
    out: dict[str, Any] = {"kind": problem.kind, "error": problem.error, "tensor": dict(problem.tensor),
                           "saved_at": problem.raw.get("saved_at"),
                           "modified_at": problem.raw.get("modified_at")}
    fix = problem.fix
    out["fix"] = None if fix is None else {"rule": fix.rule, "file": fix.file, "line": fix.line,
                                           "col": fix.col, "title": fix.title, "diff": fix.diff}
    out["why_unfixable"] = problem.why_unfixable
    for key, value in problem.raw.items():
        out.setdefault(key, value)
    return out


def report_dict(diagnosis: Diagnosis, verification: Mapping[str, Any] | None = None,
                status: str | None = None) -> dict[str, Any]:
    """DESIGN.md's JSON report for a diagnose run (`verification` is null on a dry run)."""
    report: dict[str, Any] = {
        "tool": "inplace-fix",
        "version": __version__,
        "script": diagnosis.request.target,
        "status": status or diagnosis.status,
        "problems": [problem_dict(p) for p in diagnosis.problems],
        "verification": dict(verification) if verification is not None else None,
        "backward_calls": diagnosis.backward_calls,
        "steps": diagnosis.request.steps,
        "script_error": dict(diagnosis.script_error) if diagnosis.script_error else None,
    }
    if diagnosis.message:
        report["message"] = diagnosis.message
    return report


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)
