"""What to change by hand when no local, forward-preserving rewrite exists.

Each rule says how its own operation is fixed by hand (`Rule.hand_fix`); the texts here
only say where, and why no rewrite applies.
"""

from __future__ import annotations

import os
import re

from inplace_fix.report import Problem, Report, Site
from inplace_fix.transforms.registry import get_rule

_STEP = re.compile(r"\.step\s*\(")
_BACKWARD = re.compile(r"\.backward\s*\(|autograd\.(backward|grad)\s*\(")
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_ANY = "avoid the in-place operation"  # when no rule (or an unknown one) answers
NO_GRAD_RULE = "IPF008"  # the leaf rule: wraps the write in `torch.no_grad()`


def hand_fix(rule: str | None) -> str:
    """The rule's own words for fixing its operation by hand."""
    try:
        return get_rule(rule).hand_fix if rule else _ANY
    except KeyError:
        return _ANY


def _where(site: Site | None) -> str:
    if site is None:
        return "an unknown line"
    code = site.code.strip()
    known = bool(site.path) and not os.path.isdir(site.path)  # a site without a file parses to the cwd
    text = f"{site.file() if known else '?'}:{site.line}"
    return f"{text} (`{code}`)" if code else text


def is_optimizer_step(problem: Problem) -> bool:
    """The write is an optimizer's step() (called from the user's line, done inside torch.optim)."""
    modified = problem.modified_at
    if modified is not None and _STEP.search(modified.code):
        return True
    return any("/torch/optim/" in frame.path.replace("\\", "/") for frame in problem.library_frames)


def failing_backward(problem: Problem, report: Report | None) -> Site | None:
    """The backward call that raised, when the report names it (or its traceback does)."""
    if problem.site("backward_at") is not None:
        return problem.site("backward_at")
    raised = Site.from_json(problem.get("raised_at"), os.getcwd())
    if raised is not None:
        return raised
    error = (report.script_error if report is not None else None) or {}
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
            return Site(path=os.path.abspath(file), line=line, code=code.strip())
    return None


def is_parameter_data_update(problem: Problem) -> bool:
    """A `.data` write into a parameter's memory between a forward pass and a backward that needs it."""
    return problem.kind == "silent-data-mutation" and problem.tensor.get("parameter") is True


def optimizer_step(problem: Problem, report: Report | None) -> str:
    """The two ways out of a step() between a forward pass and its backward: reorder, or recompute."""
    step = _where(problem.modified_at)
    backward = failing_backward(problem, report)
    move = (f"the backward at {_where(backward)}" if backward
            else "the backward that failed")
    return (f"the optimizer step at {step} updates parameters in place after the forward pass "
            f"that saved them, at {_where(problem.saved_at)}, and before {move} needs them. "
            + _reorder(move, "the step"))


def parameter_data_update(problem: Problem, report: Report | None) -> str:
    """The same options for a hand-written update through `.data`, which torch does not even report."""
    name = problem.tensor.get("name")
    call = problem.get("backward_call")
    move = f"backward call #{call}" if call else "the later backward call"
    return (f"the `.data` write at {_where(problem.modified_at)} updates the parameter `{name}` in "
            f"place after the forward pass that saved it, at {_where(problem.saved_at)}, and before "
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


def outside_project(problem: Problem, site: Site, rule: str | None, root: str) -> str:
    """The site is installed code or another repository: name it and say what to change."""
    how = hand_fix(rule)
    called_from = problem.modified_at
    via = ""
    if called_from is not None and called_from is not site:
        via = f" (reached from {_where(called_from)})"
    return (
        f"the in-place operation is at {_where(site)}{via}, outside the project root {root}; "
        f"files there are never edited. Change it by hand: {how}, upgrade or patch the library, "
        "or pass it a copy (`x.clone()`)."
    )


def no_rewrite(problem: Problem, site: Site | None, rule: str | None) -> str:
    """The runtime's site has no node the rule can rewrite (a library call, a loop, a deliberate .data)."""
    how = hand_fix(rule)
    saved = problem.saved_at
    tail = f"; the tensor was saved at {_where(saved)}" if saved is not None else ""
    return (
        f"no {rule or 'automatic'} rewrite applies at {_where(site)}{tail}. "
        f"Change it by hand: {how}, or clone the saved tensor before it is modified."
    )


def is_differentiable_leaf_update(problem: Problem, rule: str | None) -> bool:
    """A write into a leaf of a value autograd tracks: `torch.no_grad()` would change the program.

    IPF008's no_grad wrap is right for an update whose value is detached (`p -= lr * p.grad`);
    when the value has a graph (`p -= lr * g`, `g` from `autograd.grad(create_graph=True)`),
    the user means gradients to flow through the update, and no_grad would silently drop them
    and overwrite the leaf. A reference run cannot tell: it replays the write the same way.
    """
    return rule == NO_GRAD_RULE and problem.writes_tracked_value


def differentiable_leaf_update(problem: Problem) -> str:
    """Rebind instead of writing into the leaf: the update stays in the graph, the leaf keeps its value."""
    value = problem.get("written_value") or {}
    grad_fn = value.get("grad_fn")
    carried = f" (its grad_fn is {grad_fn})" if grad_fn else ""
    name = problem.tensor.get("name")
    leaf = f"the leaf `{name}`" if name else "a leaf tensor that requires grad"
    return (
        f"the in-place write at {_where(problem.modified_at)} writes a value that autograd tracks"
        f"{carried} into {leaf}: it is a differentiable update (e.g. an inner step with gradients "
        "from `torch.autograd.grad(..., create_graph=True)`), so `torch.no_grad()` would drop its "
        "gradient and overwrite the leaf for good. Change it by hand: bind the result to a new tensor "
        "instead of writing into the leaf (`fast = p - lr * g`) and run the forward with those "
        "tensors, e.g. `torch.func.functional_call(model, fast_params, x)` with a dict of "
        "updated parameters; the parameters themselves stay unchanged for the outer step."
    )


_NO_GRAD_VIEW = re.compile(r"view was created in (no_grad|inference) mode", re.IGNORECASE)


def is_ambiguous_view(problem: Problem) -> bool:
    """torch's "view created in no_grad mode, modified with grad mode": two legal fixes, different gradients."""
    return bool(_NO_GRAD_VIEW.search(problem.error or ""))


def ambiguous_view(problem: Problem) -> str:
    return (
        f"the in-place write at {_where(problem.modified_at)} modifies a view created under "
        "`torch.no_grad()`. Two rewrites are legal and give the same forward values but different "
        "gradients, so choose by hand: create the view outside the no_grad block if the write should "
        "be tracked (gradients flow through it), or move the in-place write inside the no_grad block "
        "too if it should not."
    )
