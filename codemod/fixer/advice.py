"""What to change by hand when no local, forward-preserving rewrite exists (PATTERNS.md)."""

from __future__ import annotations

import re
from typing import Any, Mapping

_STEP = re.compile(r"\.step\s*\(")
_BACKWARD = re.compile(r"\.backward\s*\(|autograd\.(backward|grad)\s*\(")
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')

REWRITES = {
    "IPF001": "write `x = x + y` instead of `x += y`",
    "IPF002": "write `x = x.op(...)` instead of `x.op_(...)`",
    "IPF003": "call the out-of-place function (`torch.relu(x)` instead of `torch.relu_(x)`)",
    "IPF004": "construct the module with `inplace=False` (or set `m.inplace = False`)",
    "IPF005": "use `.detach()` instead of `.data`, or make the operation visible to autograd",
    "IPF006": "insert `x = x.clone()` before the indexed assignment",
    "IPF007": "assign the result instead of passing `out=`",
    "IPF008": "wrap the update in `with torch.no_grad():`",
}


def _where(site: Mapping[str, Any] | None) -> str:
    if not site:
        return "an unknown line"
    from codemod.fixer.sites import display

    code = (site.get("code") or "").strip()
    text = f"{display(site['file']) if site.get('file') else '?'}:{site.get('line')}"
    return f"{text} (`{code}`)" if code else text


def is_optimizer_step(problem: Mapping[str, Any]) -> bool:
    """The write is an optimizer's step() (called from the user's line, done inside torch.optim)."""
    modified = problem.get("modified_at") or {}
    if _STEP.search(modified.get("code") or ""):
        return True
    for frame in problem.get("library_frames") or ():
        file = frame.get("file", "") if isinstance(frame, Mapping) else str(frame)
        if "/torch/optim/" in file.replace("\\", "/"):
            return True
    return False


def failing_backward(problem: Mapping[str, Any], report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The backward call that raised, when the report names it (or its traceback does)."""
    for key in ("backward_at", "raised_at"):
        if problem.get(key):
            return dict(problem[key])
    error = report.get("script_error") or {}
    frames = [(m.group("file"), int(m.group("line"))) for m in _FRAME.finditer(error.get("traceback") or "")]
    for file, line in reversed(frames):
        if "site-packages" in file or "/torch/" in file:
            continue
        try:
            with open(file, encoding="utf-8", errors="replace") as handle:
                code = handle.read().splitlines()[line - 1]
        except (OSError, IndexError):
            continue
        if _BACKWARD.search(code):
            return {"file": file, "line": line, "code": code.strip()}
    return None


def is_parameter_data_update(problem: Mapping[str, Any]) -> bool:
    """A `.data` write into a parameter's memory between a forward pass and a backward that needs it."""
    return problem.get("kind") == "silent-data-mutation" and (problem.get("tensor") or {}).get("parameter") is True


def optimizer_step(problem: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """PATTERNS.md's options for a step() between a forward pass and its backward."""
    step = _where(problem.get("modified_at"))
    backward = failing_backward(problem, report)
    move = (f"the backward at {_where(backward)}" if backward
            else "the backward that failed")
    return (f"the optimizer step at {step} updates parameters in place after the forward pass "
            f"that saved them, at {_where(problem.get('saved_at'))}, and before {move} needs them. "
            + _reorder(move, "the step"))


def parameter_data_update(problem: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """The same options for a hand-written update through `.data`, which torch does not even report."""
    name = (problem.get("tensor") or {}).get("name")
    call = problem.get("backward_call")
    move = f"backward call #{call}" if call else "the later backward call"
    return (f"the `.data` write at {_where(problem.get('modified_at'))} updates the parameter `{name}` in "
            f"place after the forward pass that saved it, at {_where(problem.get('saved_at'))}, and before "
            f"{move} needs its old value: torch raises nothing and that backward silently uses the new "
            "values. It is an optimizer step written by hand; making it visible (`.detach()`, "
            "`torch.no_grad()`) only turns it into torch's error. " + _reorder(move, "the update"))


def _reorder(move: str, update: str) -> str:
    return (
        f"No local rewrite keeps the training semantics, so change it by hand: either move {move} "
        f"before {update} (run every backward first, with `retain_graph=True` and `inputs=` the "
        "parameters each loss should update, or `torch.autograd.grad` per loss, then call each "
        "optimizer's step(): losses stay identical, updates become simultaneous), or "
        "recompute the forward that feeds the later loss after the step (e.g. re-run D(fake) "
        "after opt_D.step(): that loss changes). If a graph is kept across iterations "
        "(`retain_graph=True`, a cached tensor), `.detach()` it each step or recompute it."
    )


def outside_project(problem: Mapping[str, Any], site: Mapping[str, Any], rule: str | None, root: str) -> str:
    """The site is installed code or another repository: name it and say what to change."""
    how = REWRITES.get(rule or "", "avoid the in-place operation")
    called_from = problem.get("modified_at") or {}
    via = ""
    if called_from and called_from is not site:
        via = f" (reached from {_where(called_from)})"
    return (
        f"the in-place operation is at {_where(site)}{via}, outside the project root {root}; "
        f"files there are never edited. Change it by hand: {how}, upgrade or patch the library, "
        "or pass it a copy (`x.clone()`)."
    )


def no_rewrite(problem: Mapping[str, Any], site: Mapping[str, Any] | None, rule: str | None) -> str:
    """The runtime's site has no node the rule can rewrite (a library call, a loop, a deliberate .data)."""
    how = REWRITES.get(rule or "", "avoid the in-place operation")
    saved = problem.get("saved_at")
    tail = f"; the tensor was saved at {_where(saved)}" if saved else ""
    return (
        f"no {rule or 'automatic'} rewrite applies at {_where(site)}{tail}. "
        f"Change it by hand: {how}, or clone the saved tensor before it is modified."
    )


_NO_GRAD_VIEW = re.compile(r"view was created in (no_grad|inference) mode", re.IGNORECASE)


def is_ambiguous_view(problem: Mapping[str, Any]) -> bool:
    """torch's "view created in no_grad mode, modified with grad mode": two legal fixes, different gradients."""
    return bool(_NO_GRAD_VIEW.search(problem.get("error") or ""))


def ambiguous_view(problem: Mapping[str, Any]) -> str:
    return (
        f"the in-place write at {_where(problem.get('modified_at'))} modifies a view created under "
        "`torch.no_grad()`. Two rewrites are legal and give the same forward values but different "
        "gradients, so choose by hand: create the view outside the no_grad block if the write should "
        "be tracked (gradients flow through it), or move the in-place write inside the no_grad block "
        "too if it should not."
    )
