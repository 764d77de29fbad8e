"""Build and write the runtime's JSON report: the problems it found, as plain data for the engine.

Why its own module: it is the contract with the engine (`inplace_fix.report` reads it), which
never imports torch. Everything here is plain data; sites are resolved to
{file (absolute), line, col (0-based chars), code, op} only now.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Optional

from . import frames as frames_mod
from .write_target import written_name

VERSION = "0.1.0"  # the engine stamps its own version on every report it prints

_IDENT = re.compile(r"^\s*(?:return\s+)?([A-Za-z_][\w.]*?)(?:\[|\s*[-+*/@%&|^<>]*=[^=]|\.\w+_\(|\.data\b)")
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::[^=]+)?=[^=]")


def tensor_name(modified: Optional[dict], saved: Optional[dict]) -> Optional[str]:
    """The variable name when a source line names it (`h += 1`, `h[0] = 0`, `h = f(x)`).

    The fallback of `problem_tensor_name`: for a line whose write expression could not be
    found (no positions before Python 3.11, a write inside a library, a message-only problem).
    """
    if modified and modified.get("code"):
        m = _IDENT.match(modified["code"])
        if m:
            name = m.group(1)
            if name.endswith(".data"):
                name = name[: -len(".data")]
            if name not in ("self", "torch", "F", "nn"):
                return name
    if saved and saved.get("code"):
        m = _ASSIGN.match(saved["code"])
        if m:
            return m.group(1)
    return None


def problem_tensor_name(p: Any, modified: Optional[dict], saved: Optional[dict]) -> Optional[str]:
    """The variable that holds the tensor at the write (`h` in `y = h.add_(1)`), else the line's guess.

    A write inside a library (`out = net(x)` running an in-place ReLU) names no variable of
    the user's line: the guess from the lines is all there is.
    """
    if p.modified_site is not None and not p.library:
        name = written_name(p.modified_site)
        if name:
            return name
    return tensor_name(modified, saved)


def _lib(sites: list) -> list:
    out = []
    for s in sites:
        r = frames_mod.resolve(s)
        if r is not None:
            out.append(r)
    return out


def construction_stack(construction: Any) -> list:
    """The project frames that built an in-place module, innermost first ([] if none).

    The first is `construction_at`; the outer ones lead the fixer to a config literal
    (`build_act(dict(type="ReLU", inplace=True))`) when the construction line has no flag.
    """
    if construction is None:
        return []
    return _lib(list(getattr(construction, "stack", ())) or [construction])


def problem_json(p: Any) -> dict:
    view = p.view_site_resolved if p.view_site_resolved is not None else frames_mod.resolve(p.view_site)
    saved = p.saved_at_resolved if p.saved_at_resolved is not None else frames_mod.resolve(p.saved_site, p.saved_op)
    if saved is not None:
        saved = dict(saved)
        saved.setdefault("op", p.saved_op)
        if p.saved_role and p.saved_at_resolved is None:
            saved.update(p.saved_role)
        saved.pop("needed_by", None)
    modified = frames_mod.resolve(p.modified_site, p.modified_op)
    construction = frames_mod.resolve(p.construction) if p.construction is not None else None
    tensor = dict(p.tensor or {})
    if not tensor.get("name"):
        tensor["name"] = problem_tensor_name(p, modified, saved)
    return {
        "kind": p.kind,
        "error": p.error,
        "tensor": tensor,
        "saved_at": saved,
        "modified_at": modified,
        "also_modified_at": [s for s in (frames_mod.resolve(site, op) for site, op in p.also_modified) if s],
        "construction_at": construction,
        "construction_stack": construction_stack(p.construction),
        "inplace_set_at": frames_mod.resolve(getattr(p.construction, "inplace_set", None)),
        "view_created_at": view,
        "library_frames": _lib(p.library) if modified is not None else [],
        "rule": p.rule,
        "module": p.module,
        "needed_by": p.needed_by,
        "grad_of": p.grad_of,
        # a write into a leaf: whether the value written is tracked by autograd (None: not a leaf write)
        "written_value": getattr(p, "written_value", None),
        "backward_call": p.backward_call,
        "detected_by": p.detected_by,
        "anomaly_saved_at": p.anomaly_saved_at,
        "fix": None,
        "why_unfixable": None,
    }


def build(script: str, problems: list, backward_calls: int, script_error: Optional[dict],
          stopped_by: Optional[str], verification: Optional[dict], extra: Optional[dict] = None) -> dict:
    ordered = sorted(problems, key=lambda p: (p.backward_call or 0, p.seq))
    plist = [problem_json(p) for p in ordered]
    if plist:
        status = "found"
    elif script_error is not None:
        status = "script-error"
    else:
        status = "clean"
    rep = {
        "tool": "inplace-fix",
        "version": VERSION,
        "script": script,
        "status": status,
        "problems": plist,
        "backward_calls": backward_calls,
        "stopped_by": stopped_by,
        "script_error": script_error,
        "verification": verification,
    }
    if extra:
        rep.update(extra)
    return rep


def write(path: str, data: dict) -> None:
    """Atomic write: the engine never reads half a report."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".ipf-report-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
