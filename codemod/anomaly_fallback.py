"""The follow-up runs' merges: sites only a re-run in a slower mode can give, copied into a report.

Why: the tracker cannot always say where a saved tensor was saved (an op that bypasses
torch-function modes) or where a view was made under no_grad. The launcher then runs
the script once more with `--anomaly` plus `OPTIONS` and merges that run's sites in
here. Nor can it name a write made inside another torch function (`F.embedding` with
`max_norm` renormalising its weight): the launcher then re-runs with
`dispatch_options(...)`, whose dispatch-mode pass names it, and `merge_dispatch` copies
the writer in. Plain dict work on the runtime's JSON, so it runs in the engine.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["OPTIONS", "needed", "merge", "DISPATCH_OPTIONS", "dispatch_needed", "dispatch_options",
           "merge_dispatch"]

OPTIONS = ("--no-fallback", "--track-views")  # the re-run's launcher flags (and --anomaly, via the request)
DISPATCH_OPTIONS = ("--no-fallback", "--dispatch-writes")  # the dispatch-mode re-run's launcher flags
# what the dispatch re-run says about the writer of a saved tensor
WRITER_KEYS = ("modified_at", "library_frames", "rule", "module", "construction_at", "construction_stack")


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


def _lacks_writer(problem: Mapping[str, Any]) -> bool:
    """A saved tensor the tracker saw saved (it holds the record) but whose writer it could not name."""
    return (problem.get("kind") == "saved-tensor-modified" and problem.get("modified_at") is None
            and problem.get("saved_at") is not None and problem.get("detected_by", "tracker") == "tracker")


def dispatch_needed(data: Mapping[str, Any]) -> bool:
    """Whether a problem of the report lacks the modifying line that only the dispatch pass can give."""
    return any(_lacks_writer(p) for p in data.get("problems") or ())


def dispatch_options(options: tuple[str, ...]) -> tuple[str, ...]:
    """The re-run's flags, from the first run's.

    --clone-on-write when the first run had it, so that the re-run walks past the problems
    that run named and reaches the unnamed one. The `--record` of a reference run (one
    without --compare): that run stopped at the write it could not name, while the re-run
    names it, clones it and goes on, so its recording is the fuller reference to verify a
    fix against.
    """
    out = DISPATCH_OPTIONS + (("--clone-on-write",) if "--clone-on-write" in options else ())
    record = _value_of(options, "--record")
    if record is not None and _value_of(options, "--compare") is None:
        out += ("--record", record)
    return out


def _value_of(options: tuple[str, ...], flag: str) -> str | None:
    for i, option in enumerate(options):
        if option == flag and i + 1 < len(options):
            return options[i + 1]
        if option.startswith(flag + "="):
            return option[len(flag) + 1:]
    return None


def _same_tensor(p: Mapping[str, Any], c: Mapping[str, Any]) -> bool:
    def where(site: Any) -> Any:
        return (site.get("file"), site.get("line"), site.get("col")) if isinstance(site, Mapping) else None

    return (c.get("kind") == p.get("kind") and where(c.get("saved_at")) == where(p.get("saved_at"))
            and (c.get("tensor") or {}).get("shape") == (p.get("tensor") or {}).get("shape"))


def merge_dispatch(data: Mapping[str, Any], child: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """`data` with each unnamed writer copied from the child's problem on the same saved tensor; how many."""
    out = copy.deepcopy(dict(data))
    named = [c for c in child.get("problems") or () if c.get("modified_at") is not None]
    count = 0
    for p in out.get("problems") or ():
        if not _lacks_writer(p):
            continue
        c = next((c for c in named if _same_tensor(p, c)), None)
        if c is None:
            continue
        for key in WRITER_KEYS:
            if key in c:
                p[key] = copy.deepcopy(c[key])
        tensor = p.setdefault("tensor", {})
        if not tensor.get("name") and (c.get("tensor") or {}).get("name"):
            tensor["name"] = c["tensor"]["name"]
        p["detected_by"] = "dispatch"
        count += 1
    return out, count
