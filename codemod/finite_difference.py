"""The finite-difference check's verdict, from the two nudged float64 runs' reports.

Why here: the runs themselves are the launcher's (`inplace_fix.launcher.finite_difference_check`);
the nudge is the runtime's (`runtime/finite_difference.py`, `Nudger`); deciding whether
(L+ - L-) / 2h agrees with the gradient along the direction is plain arithmetic on the
two reports, so it runs in the engine. No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["STEP", "TOLERANCE", "compare", "nudge_options"]

STEP = 1e-6  # float64: truncation ~h^2, rounding ~1e-16/h, both far below TOLERANCE
TOLERANCE = 1e-5  # relative; a wrong gradient is off by a large fraction, not by 1e-5


def nudge_options(step: float) -> tuple[str, ...]:
    """The launcher flags of one nudged run (with --steps 1: only the first backward call counts)."""
    return ("--fd-nudge", repr(step), "--no-fallback")


def _unavailable(run: Mapping[str, Any]) -> str | None:
    error = run.get("script_error")
    if error:
        return f"the script does not run in float64 ({error.get('type')}: {error.get('message')})"
    if any(p.get("kind") != "silent-data-mutation" for p in run.get("problems") or ()):
        return "the float64 run found an in-place problem"  # a silent one leaves the figures intact
    fd = run.get("fd") or {}
    return fd.get("unavailable") or (None if "directional" in fd else "the float64 run reported nothing")


def compare(plus: Mapping[str, Any], minus: Mapping[str, Any], step: float) -> dict[str, Any]:
    """The `fd_check` block from the +h and -h runs."""
    for run in (plus, minus):
        why = _unavailable(run)
        if why:
            return {"available": False, "why": why}
    a, b = plus["fd"], minus["fd"]
    if a["leaves"] != b["leaves"]:
        return {"available": False, "why": "the two float64 runs used different leaves"}
    numeric = (a["loss"] - b["loss"]) / (2 * step)
    analytic = (a["directional"] + b["directional"]) / 2
    scale = max(abs(numeric), abs(analytic))
    if not math.isfinite(numeric) or not math.isfinite(analytic):
        return {"available": False, "why": "the float64 loss or gradient is not finite"}
    if scale <= 1e-12 * max(1.0, abs(a["loss"])):
        return {"available": False, "why": "the loss does not depend on the leaves along the direction tried"}
    rel_err = abs(analytic - numeric) / scale
    return {"available": True, "ok": rel_err <= TOLERANCE, "analytic": analytic, "numeric": numeric,
            "rel_err": rel_err, "tolerance": TOLERANCE, "step": step, "backward_call": 1,
            "dtype": "float64", "leaves": len(a["leaves"])}
