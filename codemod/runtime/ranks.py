"""A distributed launcher (torchrun) under the runtime: every worker diagnosed, one report.

Why here: the bug lives in the workers, which torchrun starts as `python -u SCRIPT ARGS`
itself; the launcher's own process runs no autograd. So the launcher's arguments are
parsed with torch's own parser, its script is swapped for runtime/launch.py (the
original script and arguments after `--`), and each worker writes `rank-<RANK>.json`
into one folder. `merge` then makes one report of them: the same problem in several
ranks is one problem with its `ranks` listed.
"""
from __future__ import annotations

import glob
import importlib
import json
import os
import sys
from typing import Any, Optional

LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")


def is_launcher(module: Optional[str]) -> bool:
    return module in LAUNCHERS


def rank() -> int:
    """This worker's global rank as torchrun sets it (LOCAL_RANK on a launcher that sets only that)."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "")
        if value.lstrip("-").isdigit():
            return int(value)
    return 0


def per_rank(path: Optional[str], number: int) -> Optional[str]:
    """A recording's path for one rank: each rank is compared with its own reference."""
    return None if path is None else f"{path}.rank{number}"


def run_launcher(module: str, args: list[str], launch_py: str, worker_options: list[str]) -> None:
    """Run `python -m MODULE ARGS` with each worker's script going through launch.py first.

    Raises what the launcher raises (ChildFailedError when a worker died without a report,
    SystemExit for its usage errors).
    """
    mod = importlib.import_module(module)
    sys.argv = [module, *args]
    parsed = mod.parse_args(args)
    if getattr(parsed, "no_python", False):
        raise SystemExit("inplace-fix cannot follow workers started with --no-python "
                         "(run the Python script itself under torchrun)")
    target = ["-m", parsed.training_script] if getattr(parsed, "module", False) else [parsed.training_script]
    parsed.training_script = launch_py
    parsed.training_script_args = [*worker_options, "--", *target, *parsed.training_script_args]
    parsed.module = False
    go = getattr(mod, "launch", None) if module == "torch.distributed.launch" else None
    (go or mod.run)(parsed)


def read_ranks(folder: str) -> list[tuple[int, dict]]:
    """The workers' reports, by rank (a worker killed before it wrote one is simply absent)."""
    out = []
    for path in glob.glob(os.path.join(folder, "rank-*.json")):
        stem = os.path.basename(path)[len("rank-"):-len(".json")]
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if stem.lstrip("-").isdigit() and isinstance(data, dict):
            out.append((int(stem), data))
    return sorted(out, key=lambda item: item[0])


def _site_key(site: Any) -> tuple:
    if not isinstance(site, dict):
        return (None,)
    return (site.get("file"), site.get("line"), site.get("col"))


def problem_key(problem: dict) -> tuple:
    """The same problem in two ranks: the same kind at the same saving and modifying lines."""
    return (problem.get("kind"), problem.get("rule"), _site_key(problem.get("modified_at")),
            _site_key(problem.get("saved_at")))


def _merge_problems(reports: list[tuple[int, dict]]) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for number, data in reports:
        for problem in data.get("problems") or ():
            key = problem_key(problem)
            if key in merged:
                merged[key]["ranks"].append(number)
            else:
                merged[key] = {**problem, "ranks": [number]}
    return list(merged.values())


def _merge_verification(reports: list[tuple[int, dict]]) -> Optional[dict]:
    """Every rank must pass for the run to pass; the numbers are the worst rank's."""
    blocks = [(n, d["verification"]) for n, d in reports if isinstance(d.get("verification"), dict)]
    if not blocks:
        return None
    values = [v for _, v in blocks]
    out = dict(values[0])
    for key in ("backward_ok", "losses_equal", "grads_equal", "same_leaves"):
        if key in out:
            out[key] = all(bool(v.get(key)) for v in values) and len(blocks) == len(reports)
    for key, pick in (("max_grad_diff", max), ("backward_calls", min), ("reference_backward_calls", max)):
        numbers = [v[key] for v in values if isinstance(v.get(key), (int, float))]
        if numbers:
            out[key] = pick(numbers)
    for key in ("first_loss_diff_call", "first_grad_diff_call"):
        numbers = [v[key] for v in values if isinstance(v.get(key), int)]
        out[key] = min(numbers) if numbers else None
    out["by_rank"] = {str(n): v for n, v in blocks}
    return out


def merge(reports: list[tuple[int, dict]], script: str, extra: dict) -> dict:
    """One report of the workers' reports; `ranks` says which ranks wrote one."""
    problems = _merge_problems(reports)
    error = next(({**d["script_error"], "rank": n} for n, d in reports if d.get("script_error")), None)
    first = reports[0][1] if reports else {}
    out = {
        "tool": "inplace-fix", "version": first.get("version", "0.1.0"), "script": script,
        "status": "found" if problems else "script-error" if error else "clean",
        "problems": problems,
        "backward_calls": max((int(d.get("backward_calls") or 0) for _, d in reports), default=0),
        "stopped_by": first.get("stopped_by"), "script_error": error,
        "verification": _merge_verification(reports),
        "values_only_reference": any(d.get("values_only_reference") for _, d in reports),
        "ranks": [n for n, _ in reports],
    }
    if "fd" in first:
        out["fd"] = first["fd"]
    served = sorted({path for _, d in reports for path in (d.get("overlay") or {}).get("served") or ()})
    if any("overlay" in d for _, d in reports):
        out["overlay"] = {"served": served}
    out.update(extra)
    return out
