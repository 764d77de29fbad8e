"""Entry point of a diagnose run, launched by *file path* in the user's interpreter:

    PY <repo>/codemod/runtime/launch.py --report REPORT.json [--steps N] [--root DIR]
        [--anomaly] [--record REC.pt] [--compare REC.pt] [--clone-on-write] [--fd-check]
        [--no-fallback] [--overlay OVERLAY.json] -- (SCRIPT | -m MODULE) [ARGS...]
    PY launch.py --rank-reports DIR [the same options] -- (SCRIPT | -m MODULE) [ARGS...]

`-m torch.distributed.run` (torchrun) or `-m torch.distributed.launch` is not diagnosed
itself: its workers are (ranks.py). It runs with each worker's script replaced by this
file with --rank-reports DIR (the worker writes DIR/rank-<RANK>.json, and records to and
compares with REC.pt.rank<RANK>), then the workers' reports are merged into REPORT.json.

This process never starts another one: the follow-up runs (the anomaly fallback, the
float64 finite-difference runs) are the engine's (inplace_fix.launcher), which owns
--python, --timeout and the process-group kill; --fd-check and --no-fallback are
still accepted (the engine acts on them). --track-views (where a view was created
under no_grad), --dispatch-writes (writes made inside torch functions, dispatch_writes.py)
and --fd-nudge STEP (the leaves nudged in float64, finite_difference.py) are the flags of
those follow-up runs.

Why by path: it must work where inplace-fix is not installed. It removes its own
folder from sys.path, imports the runtime beside it under a private name, then
gives the script sys.argv, sys.path[0], cwd and __name__ == "__main__" exactly as
`python SCRIPT ARGS` / `python -m MODULE ARGS` would, and always writes the report
(also when the script raises or calls sys.exit). Exit status: 0 when the report was
written, 2 for a usage error of the launcher itself.
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

USAGE = ("usage: launch.py --report REPORT.json [--steps N] [--root DIR] [--anomaly] "
         "[--record REC.pt] [--compare REC.pt] [--clone-on-write] [--fd-check] [--no-fallback] "
         "[--overlay OVERLAY.json] [--rank-reports DIR] "
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
        self.dispatch_writes = False
        self.fd_nudge: float | None = None
        self.overlay: str | None = None
        self.rank_reports: str | None = None  # a worker of a distributed launcher (ranks.py)
        self.local_rank_arg: str | None = None  # `--local-rank=N`, which torch.distributed.launch puts first
        self.module: str | None = None
        self.script: str | None = None
        self.args: list[str] = []


def parse(argv: list[str]) -> Options:
    o = Options()
    i = 0
    valued = {"--report": "report", "--steps": "steps", "--root": "root",
              "--record": "record", "--compare": "compare", "--fd-nudge": "fd_nudge",
              "--overlay": "overlay", "--rank-reports": "rank_reports"}
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
        elif a == "--dispatch-writes":
            o.dispatch_writes = True
        elif a in flags:
            setattr(o, flags[a], True)
        elif a.split("=", 1)[0] in ("--local-rank", "--local_rank") and "=" in a:
            o.local_rank_arg = a
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
    if not o.report and not o.rank_reports:
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


RUNTIME_NAME = "_inplace_fix_runtime"  # private: never shadows a `codemod`/`inplace_fix` of the user's


def _import_runtime():
    """Import the runtime package from this folder under a private name, leaving sys.path alone.

    The user's project may have its own `codemod` or `transforms`, and `inplace_fix` may
    not be installed in this interpreter at all: the runtime's modules import each other
    relatively, so they load as `_inplace_fix_runtime.*` and nothing else of ours appears
    in sys.modules.
    """
    import importlib
    import importlib.util

    while sys.path and sys.path[0] and os.path.abspath(sys.path[0]) == _HERE:
        sys.path.pop(0)
    sys.path[:] = [p for p in sys.path if not p or os.path.abspath(p) != _HERE]
    package = sys.modules.get(RUNTIME_NAME)
    if package is None:
        spec = importlib.util.spec_from_file_location(
            RUNTIME_NAME, os.path.join(_HERE, "__init__.py"), submodule_search_locations=[_HERE])
        package = importlib.util.module_from_spec(spec)
        sys.modules[RUNTIME_NAME] = package
        spec.loader.exec_module(package)
    names = ("session", "report", "recorder", "finite_difference", "overlay")
    return tuple(importlib.import_module(f"{RUNTIME_NAME}.{name}") for name in names)


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


def _is_zip(path: str) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _run_file(script: str) -> None:
    """Run a script file as `python SCRIPT` does: in `__main__`, with `__file__` and every code
    path absolute (so a script that calls os.chdir is still found by its frames) while
    sys.argv[0] stays as the user typed it. The source is read through io.open_code, which
    the overlay serves when --apply verifies an edit of the script."""
    import io
    import types
    from importlib.machinery import SourceFileLoader

    path = os.path.abspath(script)
    with io.open_code(path) as handle:
        source = handle.read()
    code = compile(source, path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __package__=None, __spec__=None,
                         __loader__=SourceFileLoader("__main__", path), __builtins__=__builtins__)
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _run_target(o: Options) -> None:
    import runpy

    if o.local_rank_arg is not None:  # where torch.distributed.launch puts it: first after the script
        o.args = [o.local_rank_arg, *o.args]
    if o.module is not None:
        sys.argv = [o.module] + o.args  # runpy replaces argv[0] with the file path
        sys.path.insert(0, os.getcwd())
        runpy.run_module(o.module, run_name="__main__", alter_sys=True)
    else:
        script = o.script or ""
        sys.argv = [script] + o.args
        sys.path.insert(0, os.path.dirname(os.path.realpath(script)))
        if os.path.isfile(script) and not _is_zip(script):
            _run_file(script)
        else:  # a folder or zip with __main__.py
            runpy.run_path(script, run_name="__main__")


TEST_RUNNERS = frozenset({"pytest", "py.test", "unittest"})


def test_runner(o: Options) -> bool:
    """`-m pytest`, `-m unittest` or a `pytest` executable: a runner that catches every error of a
    test, so the run must never be stopped inside one (Session.keep_running)."""
    if o.module is not None:
        return o.module.split(".")[0] in TEST_RUNNERS or o.module in TEST_RUNNERS
    name = os.path.basename(o.script or "")
    for suffix in (".exe", "-script.py", ".py"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name in TEST_RUNNERS


def _dispatch_writes(sess):
    """The follow-up run's dispatch pass, entered beside the session's function mode."""
    import importlib

    mod = importlib.import_module(f"{RUNTIME_NAME}.dispatch_writes")
    mode = mod.DispatchWrites(sess.registry, sess.frames, sess.clone_on_write)
    mode.__enter__()
    return mode


def worker_options(o: Options, root: str, folder: str) -> list[str]:
    """This run's options for each worker of a distributed launcher (its report goes to `folder`)."""
    out = ["--rank-reports", folder, "--steps", str(o.steps), "--root", root]
    for flag, on in (("--anomaly", o.anomaly), ("--clone-on-write", o.clone_on_write), ("--fd-check", o.fd_check),
                     ("--no-fallback", not o.fallback), ("--track-views", o.track_views),
                     ("--dispatch-writes", o.dispatch_writes)):
        out += [flag] if on else []
    for flag, value in (("--record", o.record), ("--compare", o.compare), ("--overlay", o.overlay),
                        ("--fd-nudge", o.fd_nudge)):
        out += [flag, os.path.abspath(value) if flag != "--fd-nudge" else repr(value)] if value is not None else []
    return out


def _run_ranks(o: Options, root: str, report_mod, ranks_mod) -> int:
    """torchrun with every worker under this runtime; their reports merged into one."""
    report_path = os.path.abspath(o.report)
    folder = os.path.join(os.path.dirname(report_path), f"ranks-{os.getpid()}")
    os.makedirs(folder, exist_ok=True)
    error, exit_code = None, None
    try:
        ranks_mod.run_launcher(o.module or "", o.args, os.path.abspath(__file__), worker_options(o, root, folder))
    except SystemExit as e:
        exit_code = e.code
        if e.code not in (None, 0):
            error = {"type": "SystemExit", "message": str(e.code), "traceback": ""}
    except BaseException as e:  # ChildFailedError: a worker died before it wrote its report
        error = _script_error(e)
    rep = ranks_mod.merge(ranks_mod.read_ranks(folder), "-m " + (o.module or ""), {
        "root": root, "steps": o.steps, "clone_on_write": o.clone_on_write, "anomaly": o.anomaly,
        "fd_check": o.fd_check, "exit_code": exit_code if isinstance(exit_code, int) else None})
    if error is not None and rep["script_error"] is None:
        rep["script_error"] = error
        rep["status"] = "found" if rep["problems"] else "script-error"
    report_mod.write(report_path, rep)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        o = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    session_mod, report_mod, recorder_mod, fd_mod, overlay_mod = _import_runtime()
    import importlib

    ranks_mod = importlib.import_module(f"{RUNTIME_NAME}.ranks")
    target = o.script if o.script is not None else "-m " + (o.module or "")
    if o.root:
        root = os.path.abspath(o.root)
    elif o.script is not None:
        root = default_root(os.path.dirname(os.path.abspath(o.script)))
    else:
        root = default_root(os.getcwd())
    if o.rank_reports:  # one worker of a distributed launcher: its own report and recordings
        number = ranks_mod.rank()
        o.report = os.path.join(o.rank_reports, f"rank-{number}.json")
        o.record, o.compare = ranks_mod.per_rank(o.record, number), ranks_mod.per_rank(o.compare, number)
    elif ranks_mod.is_launcher(o.module):
        return _run_ranks(o, root, report_mod, ranks_mod)
    report_path = os.path.abspath(o.report)

    reference = None
    if o.compare:
        try:
            reference = recorder_mod.load(o.compare)
        except Exception as e:  # an unreadable recording is the engine's bug; say so
            report_mod.write(report_path, report_mod.build(target, [], 0, {
                "type": "RecordingError", "message": f"cannot load {o.compare}: {e}", "traceback": ""},
                None, None))
            return 0

    overlay = None
    if o.overlay:
        try:
            overlay = overlay_mod.load(o.overlay)
        except Exception as e:  # the engine's bug: say so rather than run the unedited files
            report_mod.write(report_path, report_mod.build(target, [], 0, {
                "type": "OverlayError", "message": f"cannot load {o.overlay}: {e}", "traceback": ""},
                None, None))
            return 0
        overlay.install()

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
                               track_views=o.track_views, nudger=nudger, keep_running=test_runner(o))
    script_error = None
    exit_code = None
    StopRun = session_mod.StopRun
    sess.install()
    dispatch = _dispatch_writes(sess) if o.dispatch_writes else None
    try:
        _run_target(o)
    except StopRun:
        pass
    except SystemExit as e:
        exit_code = e.code
        if e.code not in (None, 0):
            script_error = {"type": "SystemExit", "message": str(e.code), "traceback": ""}
    except BaseException as e:  # the script's own failure: report it, untouched
        if not sess.owns(e):  # torch's error for the problem found is the finding, not a failure
            script_error = _script_error(e)
    finally:
        if dispatch is not None:
            dispatch.__exit__(None, None, None)
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
    rep = report_mod.build(target, sess.problems, sess.calls, script_error, sess.stopped_by,
                           verification, {"root": root, "steps": o.steps,
                                          "clone_on_write": o.clone_on_write,
                                          "anomaly": o.anomaly,
                                          "fd_check": o.fd_check,
                                          "values_only_reference": sess.values_only_reference,
                                          "exit_code": exit_code
                                          if isinstance(exit_code, int) else None})
    if nudger is not None:
        rep["fd"] = nudger.report()
    if overlay is not None:
        overlay.uninstall()
        rep["overlay"] = {"served": overlay.served()}
    report_mod.write(report_path, rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
