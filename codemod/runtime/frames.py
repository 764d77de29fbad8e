"""Map Python frames to source sites in the user's project.

Why: torch names no line at all; we need the *project* frame (never torch, never
site-packages, never this runtime) and, when the write happened inside a library,
the library frames beneath it. Frames are turned into (code, lasti) pairs at capture
time so nothing keeps a frame (and its locals) alive; lines and 0-based *character*
columns are resolved lazily, only for what ends up in the report.
"""
from __future__ import annotations

import linecache
import os
import site
import sys
import sysconfig
from types import CodeType, FrameType
from typing import Any, Optional

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _excluded_dirs() -> list[str]:
    dirs = [_RUNTIME_DIR]
    try:
        import torch  # noqa: F401  (torch is always there: we run under it)

        dirs.append(os.path.dirname(os.path.abspath(torch.__file__)))
    except Exception:  # pragma: no cover
        pass
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            dirs.append(sysconfig.get_paths()[key])
        except Exception:
            pass
    try:
        dirs.extend(site.getsitepackages())
    except Exception:
        pass
    try:
        dirs.append(site.getusersitepackages())
    except Exception:
        pass
    out = []
    for d in dirs:
        if d:
            n = _norm(d)
            if n not in out:
                out.append(n)
    return out


Site = tuple  # (CodeType, lasti)


class ProjectFrames:
    """Decides which files belong to the project and captures sites cheaply."""

    def __init__(self, root: str) -> None:
        self.root = _norm(root)
        self._excluded = _excluded_dirs()
        self._cache: dict[str, bool] = {}

    def is_project(self, filename: str) -> bool:
        """True for a real file under the root that is not torch/site-packages/us."""
        hit = self._cache.get(filename)
        if hit is not None:
            return hit
        ok = False
        if filename and not filename.startswith("<"):
            path = _norm(os.path.abspath(filename))
            named = os.path.normcase(os.path.abspath(filename))  # a symlink in the project, as named:
            if not _under(path, self.root) and _under(named, self.root):  # still the user's line to report
                path = named
            if _under(path, self.root):
                ok = True
                for ex in self._excluded:
                    if ex == path or path.startswith(ex.rstrip(os.sep) + os.sep):
                        # stdlib/site-packages *inside* the root (a venv in the repo)
                        if len(ex) >= len(self.root):
                            ok = False
                            break
        self._cache[filename] = ok
        return ok

    def is_ours(self, filename: str) -> bool:
        return filename.startswith(_RUNTIME_DIR)

    def capture(self, frame: Optional[FrameType], with_library: bool = False):
        """First project frame at or above `frame` as (code, lasti), plus library frames.

        Returns (site | None, [library sites beneath it, outermost first]).
        """
        lib: list = []
        f = frame
        while f is not None:
            fn = f.f_code.co_filename
            if self.is_project(fn):
                if with_library:
                    lib.reverse()
                return (f.f_code, f.f_lasti), lib
            if with_library and not fn.startswith(_RUNTIME_DIR) and "torch/overrides" not in fn:
                lib.append((f.f_code, f.f_lasti))
            f = f.f_back
        return None, []

    def capture_stack(self, frame: Optional[FrameType], limit: int = 8, max_depth: int = 64) -> list:
        """Up to `limit` project frames at or above `frame` as (code, lasti), innermost first.

        Why: a module built by a builder (`cls(**cfg)`) names the builder's line; the config
        literal to edit is further out (a caller's argument, a default, a constant). The first
        is what `capture` returns; past it at most `max_depth` frames are walked, so a deep
        stack costs no more than a handful.
        """
        out: list = []
        f = frame
        walked = 0
        while f is not None and len(out) < limit and walked < max_depth:
            if self.is_project(f.f_code.co_filename):
                out.append((f.f_code, f.f_lasti))
            if out:
                walked += 1
            f = f.f_back
        return out


def _char_col(line_text: str, byte_col: int) -> int:
    try:
        return len(line_text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
    except Exception:
        return byte_col


def resolve(site_: Optional[Site], op: Optional[str] = None, rel_to: Optional[str] = None) -> Optional[dict[str, Any]]:
    """(code, lasti) -> {"file", "line", "col", "code", "op", "function"} (col 0-based chars)."""
    if site_ is None:
        return None
    code, lasti = site_
    line = col = end_line = end_col = None
    try:
        pos = list(code.co_positions())[lasti // 2]
        line, end_line, col, end_col = pos
    except Exception:
        pass
    if line is None:
        line = code.co_firstlineno
    text = linecache.getline(code.co_filename, line)
    if col is None:
        col = len(text) - len(text.lstrip())
    else:
        col = _char_col(text, col)
    out = {
        "file": os.path.abspath(code.co_filename),
        "line": line,
        "col": col,
        "code": text.strip(),
        "op": op,
        "function": code.co_name,
    }
    if end_line is not None and end_col is not None:  # the executing expression's end: its node exactly
        out["end_line"] = end_line
        out["end_col"] = _char_col(linecache.getline(code.co_filename, end_line), end_col)
    return out


def site_from_traceback_text(text: str, frames: ProjectFrames) -> Optional[dict[str, Any]]:
    """Last project frame of a formatted stack (anomaly mode's warning text)."""
    import re

    best = None
    for m in re.finditer(r'File "([^"]+)", line (\d+), in ([^\n]+)', text):
        fn, ln, fun = m.group(1), int(m.group(2)), m.group(3).strip()
        if frames.is_project(fn):
            best = (fn, ln, fun)
    if best is None:
        return None
    fn, ln, fun = best
    src = linecache.getline(fn, ln)
    return {"file": os.path.abspath(fn), "line": ln, "col": len(src) - len(src.lstrip()),
            "code": src.strip(), "op": None, "function": fun}


def caller_code(frame: Optional[FrameType]) -> Optional[CodeType]:
    return frame.f_code if frame is not None else None


def this_frame(depth: int = 1) -> FrameType:
    return sys._getframe(depth + 1)


_BINARY_OP = None
_NB_OPS: list = []
try:
    import dis as _dis

    _BINARY_OP = _dis.opmap.get("BINARY_OP")
    _NB_OPS = list(getattr(_dis, "_nb_ops", []))
except Exception:  # pragma: no cover
    pass


def augmented_op(site_: Optional[Site]) -> Optional[str]:
    """'+=' etc. when the site's current instruction is an in-place BINARY_OP.

    Why: torch reports `x += y` to a TorchFunctionMode as `add_`; the bytecode tells
    the two apart, and they are different rules (IPF001 vs IPF002).
    """
    if site_ is None or _BINARY_OP is None:
        return None
    code, lasti = site_
    raw = code.co_code
    if 0 <= lasti < len(raw) - 1 and raw[lasti] == _BINARY_OP:
        arg = raw[lasti + 1]
        if 0 <= arg < len(_NB_OPS) and _NB_OPS[arg][1].endswith("=") and _NB_OPS[arg][0].startswith("NB_INPLACE"):
            return _NB_OPS[arg][1]
    return None
