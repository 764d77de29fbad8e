"""Entry point of a diagnose run, launched by *file path* in the user's interpreter:

    PY <repo>/codemod/runtime/launch.py --report REPORT.json [--steps N] [--root DIR]
        [--anomaly] [--record REC.pt] [--compare REC.pt] [--clone-on-write] [--fd-check]
        [--no-fallback] -- (SCRIPT | -m MODULE) [ARGS...]

--fd-check (with --compare): when the gradients differ from the reference, two more
runs in float64 with the leaves nudged (--fd-nudge STEP, internal) check them against
the loss; see finite_difference.py. --track-views is internal: the anomaly fallback
re-run uses it to find where a view was created under no_grad.

Why by path: it must work where inplace-fix is not installed. It removes its own
folder from sys.path, imports codemod.runtime.* from the repository it lives in, then
gives the script sys.argv, sys.path[0], cwd and __name__ == "__main__" exactly as
`python SCRIPT ARGS` / `python -m MODULE ARGS` would, and always writes the report
(also when the script raises or calls sys.exit). Exit status: 0 when the report was
written, 2 for a usage error of the launcher itself.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))

USAGE = ("usage: launch.py --report REPORT.json [--steps N] [--root DIR] [--anomaly] "
         "[--record REC.pt] [--compare REC.pt] [--clone-on-write] [--fd-check] [--no-fallback] "
         "-- (SCRIPT | -m MODULE) [ARGS...]")


class Options:
    def __init__(self) -> None:
        self.report: str = ""
        self.steps = 3
        self.root: str | None = None
        self.anomaly = False
        self.record: str | None = None
        self.compare: str | None = None
        self.clone_on_write = False
        self.fd_check = False
        self.fallback = True
        self.track_views = False
        self.fd_nudge: float | None = None
        self.module: str | None = None
        self.script: str | None = None
        self.args: list[str] = []


def parse(argv: list[str]) -> Options:
    o = Options()
    i = 0
    valued = {"--report": "report", "--steps": "steps", "--root": "root",
              "--record": "record", "--compare": "compare", "--fd-nudge": "fd_nudge"}
    flags = {"--anomaly": "anomaly", "--clone-on-write": "clone_on_write", "--fd-check": "fd_check"}
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a == "--no-fallback":
            o.fallback = False
        elif a == "--track-views":
            o.track_views = True
        elif a in flags:
            setattr(o, flags[a], True)
        elif a.split("=", 1)[0] in valued:
            key = a.split("=", 1)[0]
            if "=" in a:
                val = a.split("=", 1)[1]
            else:
                i += 1
                if i >= len(argv):
                    raise SystemExit(f"launch.py: {key} needs a value\n{USAGE}")
                val = argv[i]
            try:
                value = int(val) if key == "--steps" else float(val) if key == "--fd-nudge" else val
            except ValueError:
                raise SystemExit(f"launch.py: {key} needs a number, not {val!r}\n{USAGE}") from None
            setattr(o, valued[key], value)
        elif a.startswith("-") and a != "-m":
            raise SystemExit(f"launch.py: unknown option {a}\n{USAGE}")
        else:
            break
        i += 1
    rest = argv[i:]
    if not rest:
        raise SystemExit(f"launch.py: no script given\n{USAGE}")
    if rest[0] == "-m":
        if len(rest) < 2:
            raise SystemExit(f"launch.py: -m needs a module\n{USAGE}")
        o.module, o.args = rest[1], rest[2:]
    else:
        o.script, o.args = rest[0], rest[1:]
    if not o.report:
        raise SystemExit(f"launch.py: --report is required\n{USAGE}")
    return o


def default_root(start: str) -> str:
    """The git top-level above `start`, else `start` itself."""
    d = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.path.abspath(start)
        d = parent


def _import_runtime():
    """Import our modules from this repository without leaving it on sys.path."""
    while sys.path and sys.path[0] and os.path.abspath(sys.path[0]) == _HERE:
        sys.path.pop(0)
    sys.path[:] = [p for p in sys.path if not p or os.path.abspath(p) != _HERE]
    sys.path.insert(0, _REPO)
    try:
        from codemod.runtime import child_run, finite_difference, recorder, report, session  # noqa: F401
    finally:
        try:
            sys.path.remove(_REPO)
        except ValueError:
            pass
    return session, report, recorder, finite_difference


def seed_everything(seed: int = 0) -> None:
    """Same seeds every run (the script's own seeding happens later and wins)."""
    import importlib.util
    import random

    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    if importlib.util.find_spec("numpy") is not None:
        try:
            import numpy

            numpy.random.seed(seed)
        except Exception:
            pass


def _script_error(exc: BaseException) -> dict:
    import traceback

    tb = exc.__traceback__
    # drop our own and runpy's frames from the top of the traceback
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith(_HERE)
                              or os.path.basename(tb.tb_frame.f_code.co_filename) == "runpy.py"):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text}


def _run_target(o: Options) -> None:
    import runpy

    if o.module is not None:
        sys.argv = [o.module] + o.args  # runpy replaces argv[0] with the file path
        sys.path.insert(0, os.getcwd())
        runpy.run_module(o.module, run_name="__main__", alter_sys=True)
    else:
        script = o.script or ""
        sys.argv = [script] + o.args
        sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
        runpy.run_path(script, run_name="__main__")


def _target_argv(o: Options) -> list[str]:
    """The script (or -m module) and its arguments, as a child launch takes them."""
    return (["-m", o.module] if o.module else [o.script or ""]) + o.args


def _fallback_anomaly(o: Options, rep: dict, root: str) -> None:
    """Re-run under anomaly mode to get the saved site torch alone can give us."""
    need = [p for p in rep["problems"]
            if (p["kind"] == "saved-tensor-modified" and p["saved_at"] is None)
            or (p["kind"] == "view-modified" and p.get("view_created_at") is None)]
    if not need:
        return
    from codemod.runtime.child_run import run_launcher

    options = ["--anomaly", "--no-fallback", "--track-views", "--steps", str(o.steps), "--root", root]
    try:
        child = run_launcher(options, _target_argv(o))
    except Exception:
        return
    for p in need:
        for c in child.get("problems", []):
            if c["kind"] == "view-modified" == p["kind"]:
                if c.get("view_created_at") is not None:
                    p["view_created_at"] = c["view_created_at"]
                    p["detected_by"] = "anomaly"
                break
            site = c.get("saved_at") or c.get("anomaly_saved_at")
            if c["kind"] == p["kind"] and site is not None:
                p["saved_at"] = site
                p["needed_by"] = p.get("needed_by") or c.get("needed_by")
                p["detected_by"] = "anomaly"
                if p.get("modified_at") is None and c.get("modified_at") is not None:
                    p["modified_at"] = c["modified_at"]
                break


def main(argv: list[str] | None = None) -> int:
    try:
        o = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    session_mod, report_mod, recorder_mod, fd_mod = _import_runtime()
    report_path = os.path.abspath(o.report)
    target = o.script if o.script is not None else "-m " + (o.module or "")
    if o.root:
        root = os.path.abspath(o.root)
    elif o.script is not None:
        root = default_root(os.path.dirname(os.path.abspath(o.script)))
    else:
        root = default_root(os.getcwd())

    reference = None
    if o.compare:
        try:
            reference = recorder_mod.load(o.compare)
        except Exception as e:  # an unreadable recording is the engine's bug; say so
            report_mod.write(report_path, report_mod.build(target, [], 0, {
                "type": "RecordingError", "message": f"cannot load {o.compare}: {e}", "traceback": ""},
                None, None))
            return 0

    seed_everything(0)
    nudger = None
    if o.fd_nudge is not None:
        import torch

        torch.set_default_dtype(torch.float64)
        nudger = fd_mod.Nudger(o.fd_nudge)
    # Everything imported so far (torch) lives forever: move it out of the collector's
    # way, or our per-saved-tensor records trigger full collections that walk all of torch.
    import gc

    gc.freeze()
    sess = session_mod.Session(root, steps=o.steps, clone_on_write=o.clone_on_write,
                               anomaly=o.anomaly, recording=bool(o.record or o.compare),
                               track_views=o.track_views, nudger=nudger)
    script_error = None
    exit_code = None
    StopRun = session_mod.StopRun
    sess.install()
    try:
        _run_target(o)
    except StopRun:
        pass
    except SystemExit as e:
        exit_code = e.code
        if e.code not in (None, 0):
            script_error = {"type": "SystemExit", "message": str(e.code), "traceback": ""}
    except BaseException as e:  # the script's own failure: report it, untouched
        script_error = _script_error(e)
    finally:
        sess.uninstall()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass

    verification = None
    if o.record:
        sess.recorder.save(o.record)
    if reference is not None:
        ok = script_error is None and not sess.problems
        verification = recorder_mod.compare(sess.recorder.data(), reference, ok)
        if o.fd_check and verification["backward_ok"] and not verification["grads_equal"]:
            verification["fd_check"] = fd_mod.check(root, _target_argv(o))
    rep = report_mod.build(target, sess.problems, sess.calls, script_error, sess.stopped_by,
                           verification, {"root": root, "steps": o.steps,
                                          "clone_on_write": o.clone_on_write,
                                          "anomaly": o.anomaly,
                                          "fd_check": o.fd_check,
                                          "exit_code": exit_code
                                          if isinstance(exit_code, int) else None})
    if nudger is not None:
        rep["fd"] = nudger.report()
    if o.fallback and not o.anomaly:
        _fallback_anomaly(o, rep, root)
    report_mod.write(report_path, rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
