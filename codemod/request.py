"""What to run and how: the user's target, checked before anything runs.

`check_request` turns what the user typed into a `Request` with the interpreter and
the project root resolved, or raises `InputError` with one line (exit 2): a missing
file, a folder, a syntax error, an interpreter that does not run or has no torch, a
module that does not exist. Nothing is run but the interpreter's own probe.

Which interpreter: `--python` when the user gave one; else this one if it has torch
(inplace-fix installs without torch: `pip install inplace-fix` is enough for `scan` and
`migrate`), else the active environment's `python` on PATH. `torchrun` (as the script or
the module) means `-m torch.distributed.run`, whose workers the runtime follows.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inplace_fix.errors import InputError
from inplace_fix.paths import display_path, find_root, link_problem

__all__ = ["InputError", "Request", "check_request", "LAUNCHER", "TORCHRUN", "pick_python"]

TORCHRUN = "torch.distributed.run"  # what the `torchrun` command runs

LAUNCHER = Path(__file__).resolve().parent / "runtime" / "launch.py"


@dataclass(frozen=True)
class Request:
    """What to run and how; paths are as the user gave them, resolved by `check_request`."""

    script: str | None = None  # a file path, or None with `module`
    module: str | None = None  # `run -m pkg.mod`
    args: tuple[str, ...] = ()
    steps: int = 3
    timeout: float = 600.0
    python: str | None = sys.executable  # None: the first interpreter with torch (`pick_python`)
    root: str | None = None  # None: git top-level above the script, else its folder
    anomaly: bool = False
    cwd: str = field(default_factory=os.getcwd)
    overlay: str | None = None  # edited sources the runtime serves from memory (a verification run)

    @property
    def target(self) -> str:
        """How the user named what runs (for messages and the report's `script`)."""
        if self.module:
            return self.module
        return display_path(self.script or "", self.cwd)


def _check_syntax(path: Path) -> None:
    from inplace_fix import fileio

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


def _same_interpreter(python: str) -> bool:
    """Whether `python` is this very interpreter, so its torch can be looked up here.

    Compared by the path as given, not through symlinks: a virtualenv's `bin/python`
    links to the base interpreter, yet it has its own site-packages (Python finds its
    environment from the path it was started as, next to pyvenv.cfg), so resolving
    both sides would answer for the wrong environment.
    """
    return os.path.normcase(os.path.abspath(python)) == os.path.normcase(os.path.abspath(sys.executable))


def _resolve(python: str, cwd: str) -> str:
    if os.sep in python or (os.altsep and os.altsep in python):
        resolved = os.path.abspath(os.path.join(cwd, python))
        if not (os.path.isfile(resolved) and os.access(resolved, os.X_OK)):
            raise InputError(f"--python {python}: no such executable")
        return resolved
    found = shutil.which(python)
    if found is None:
        raise InputError(f"--python {python}: not found on PATH")
    return found


def _has_torch(python: str, cwd: str) -> bool:
    if _same_interpreter(python):
        return importlib.util.find_spec("torch") is not None
    return bool(_probe(python, None, cwd).get("torch"))


def pick_python(python: str | None, cwd: str) -> str:
    """The interpreter that runs the script: `python` if the user chose one, else the first with torch.

    Not chosen (None): this one if it has torch, else
    `python` on PATH (an activated virtualenv or conda environment). None has it: one
    line naming what to install. A chosen one without torch is the request check's error.
    """
    if python is not None:
        return _resolve(python, cwd)
    here = sys.executable
    if _has_torch(here, cwd):
        return here
    on_path = shutil.which("python") or shutil.which("python3")
    if on_path and not _same_interpreter(on_path) and _has_torch(on_path, cwd):
        return on_path
    tried = here + (f" or {on_path} (`python` on PATH)" if on_path and not _same_interpreter(on_path) else "")
    raise InputError(f"no interpreter with torch: {tried} has none; install it (pip install torch, or "
                     "pip install \"inplace-fix[torch]\") or pass --python PY that has it")


def _launcher_alias(request: Request) -> Request:
    """`inplace-fix torchrun ...` and `run -m torchrun` are `run -m torch.distributed.run`."""
    named = request.module == "torchrun" or (
        request.module is None and request.script == "torchrun" and not Path(request.cwd, "torchrun").exists())
    return replace(request, script=None, module=TORCHRUN) if named else request


def check_request(request: Request) -> Request:
    """Validate the input before anything runs; returns the request with paths resolved.

    Raises InputError with a one-line reason: missing file, a folder, a syntax error,
    an interpreter that does not run or has no torch, a module that does not exist.
    """
    request = _launcher_alias(request)
    cwd = request.cwd
    python = pick_python(request.python, cwd)
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
        link = link_problem(script) if request.script else None
        if link is not None:
            raise InputError(f"{request.script}: {link}")
        if not request.script or not script.exists():
            raise InputError(f"{request.script}: no such file")
        if script.is_dir():
            raise InputError(f"{request.script}: is a directory, not a script "
                             f"(use `inplace-fix run -m PACKAGE` for a package)")
        if not script.is_file():  # a FIFO or a device: reading it would block or never end
            raise InputError(f"{request.script}: not a regular file")
        _check_syntax(script)
        has_torch = _has_torch(python, cwd)
        root = request.root or find_root(Path(os.path.abspath(script)).parent)
    if not has_torch:
        raise InputError(f"{python} has no torch installed (use --python to pick the interpreter "
                         "that runs your script)")
    if not os.path.isdir(root):
        raise InputError(f"--root {root}: no such directory")
    if not LAUNCHER.is_file():
        raise InputError(f"this installation has no runtime ({LAUNCHER} is missing)")
    return replace(request, python=python, root=os.path.abspath(os.path.join(cwd, root)))
