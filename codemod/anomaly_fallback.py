"""The anomaly fallback's merge: sites only an anomaly-mode re-run can give, copied into a report.

Why: the tracker cannot always say where a saved tensor was saved (an op that bypasses
torch-function modes) or where a view was made under no_grad. The launcher then runs
the script once more with `--anomaly` plus `OPTIONS` and merges that run's sites in
here; plain dict work on the runtime's JSON, so it runs in the engine.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["OPTIONS", "needed", "merge"]

OPTIONS = ("--no-fallback", "--track-views")  # the re-run's launcher flags (and --anomaly, via the request)


def _lacks_site(problem: Mapping[str, Any]) -> bool:
    kind = problem.get("kind")
    return ((kind == "saved-tensor-modified" and problem.get("saved_at") is None)
            or (kind == "view-modified" and problem.get("view_created_at") is None))


def needed(data: Mapping[str, Any]) -> bool:
    """Whether a problem of the report lacks the site only anomaly mode can give."""
    return any(_lacks_site(p) for p in data.get("problems") or ())


def merge(data: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each site-less problem completed from the first matching problem of `child`."""
    out = copy.deepcopy(dict(data))
    found = list(child.get("problems") or ())
    for p in out.get("problems") or ():
        if not _lacks_site(p):
            continue
        for c in found:
            if c.get("kind") == "view-modified" == p.get("kind"):
                if c.get("view_created_at") is not None:
                    p["view_created_at"] = c["view_created_at"]
                    p["detected_by"] = "anomaly"
                break
            site = c.get("saved_at") or c.get("anomaly_saved_at")
            if c.get("kind") == p.get("kind") and site is not None:
                p["saved_at"] = site
                p["needed_by"] = p.get("needed_by") or c.get("needed_by")
                p["detected_by"] = "anomaly"
                if p.get("modified_at") is None and c.get("modified_at") is not None:
                    p["modified_at"] = c["modified_at"]
                break
    return out
