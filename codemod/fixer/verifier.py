"""The verifier: does the fixed run prove the fix? The oracle, and the two cases it cannot judge.

- Default: backward passes, every loss bitwise equal, the same leaves get gradients,
  every gradient matches the clone-on-write reference.
- Leaf error: the original never reached backward, so there is nothing to
  compare: the fixed run must pass its backward steps and the leaf must get a gradient.
- Silent `.data` mutation the forward reads again: the reference is wrong too, so a
  float64 directional finite-difference check decides; without one, never `fixed`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from inplace_fix.fixer.model import Verdict
from inplace_fix.report import Problem

def _flag(verification: Mapping[str, Any], key: str) -> bool:
    return verification.get(key) is True


def _diff(verification: Mapping[str, Any]) -> str:
    value = verification.get("max_grad_diff")
    return "unknown" if value is None else repr(float(value))


def is_leaf_problem(problem: Problem) -> bool:
    """The leaf error (or a write into a view of a leaf, which the leaf rule answers too):
    the original never reached backward, so no values can be compared."""
    if problem.kind == "leaf-modified":
        return True
    from inplace_fix.transforms.registry import rule_for_kind

    leaf_rule = rule_for_kind("leaf-modified")
    return leaf_rule is not None and problem.rule == leaf_rule.code


def is_silent_problem(problem: Problem) -> bool:
    return problem.kind == "silent-data-mutation"


def _leaf_gets_grad(verification: Mapping[str, Any], problems: Sequence[Problem]) -> bool | None:
    """Whether the leaves the problems name still receive a gradient (None: not reported).

    `grad_leaves` are the keys of the leaves with a gradient in the fixed run's last
    backward call; a problem's `grad_of` (or its tensor's name) names what must be there.
    """
    if "leaf_has_grad" in verification:
        return bool(verification["leaf_has_grad"])
    leaves = verification.get("grad_leaves")
    if leaves is None:
        return None
    names = {str(k) for p in problems for k in p.get("grad_of") or ()}
    names |= {str(p.tensor.get("name")) for p in problems if is_leaf_problem(p)}
    names.discard("None")
    leaves = [str(leaf) for leaf in leaves]
    if not leaves:
        return False
    wanted = [n for n in names if not n.startswith(("leaf#", "input#"))]
    return all(any(leaf == n or leaf.endswith("." + n) for leaf in leaves) for n in wanted)


def _fd(fd: Mapping[str, Any] | None) -> tuple[bool | None, str]:
    """(passed, detail) of the runtime's float64 directional finite-difference check.

    passed is None when no check ran; detail then says why.
    """
    if not fd:
        return None, "no finite-difference check was run"
    if fd.get("available") is False or "ok" not in fd:
        return None, f"the finite-difference check was not available: {fd.get('why', 'no result')}"
    detail = ", ".join(f"{k} {fd[k]:.6g}" for k in ("analytic", "numeric", "rel_err") if k in fd)
    return bool(fd["ok"]), detail


def _judge_changed_gradients(verification: Mapping[str, Any]) -> Verdict:
    """A fix that makes a `.data` write visible: same loss, new gradients, the loss itself decides."""
    first_grad = verification.get("first_grad_diff_call")
    first_loss = verification.get("first_loss_diff_call")
    if first_loss is not None and (first_grad is None or first_loss <= first_grad):
        return Verdict(False, "not-verified", f"the loss differs from the original's at backward call "
                       f"{first_loss}: the forward pass changed")
    change = f"gradients changed from the original's by up to {_diff(verification)}"
    if first_grad != 1:
        return Verdict(False, "not-verified", f"{change} from backward call {first_grad} on; the "
                       "finite-difference check covers the first backward call only", True, "finite-difference")
    passed, detail = _fd(verification.get("fd_check"))
    if passed:
        later = "; later losses follow the corrected gradients" if first_loss is not None else ""
        return Verdict(True, "fixed", f"loss matches the original's; {change}, which the `.data` write had "
                       f"hidden; a float64 finite-difference check of the loss confirms them ({detail}){later}",
                       True, "finite-difference")
    why = (f"the float64 finite-difference check of the loss disagrees with them ({detail})" if passed is False
           else detail)
    return Verdict(False, "not-verified", f"{change}; {why}", True, "finite-difference")


def _judge_first_loss(verification: Mapping[str, Any]) -> Verdict:
    """The original raised in its forward pass; the reference replayed that write outside
    autograd, so its first loss is what the program means and its gradients are not."""
    if verification.get("first_loss_diff_call") == 1:
        return Verdict(False, "not-verified", "the first loss differs from the original's forward pass (its "
                       "in-place write replayed outside autograd): the rewrite changes what the script computes",
                       False, "first-loss")
    same = "the first loss matches the original's forward pass (its in-place write replayed outside autograd)"
    passed, detail = _fd(verification.get("fd_check"))
    if passed is False:
        return Verdict(False, "not-verified", f"{same}, but the float64 finite-difference check of the loss "
                       f"disagrees with the new gradients ({detail})", False, "first-loss")
    if passed:
        return Verdict(True, "fixed", f"{same}; a float64 finite-difference check of the loss confirms the "
                       f"gradients ({detail})", False, "first-loss")
    return Verdict(True, "fixed", f"{same}; gradients were not compared: autograd never saw that write "
                   f"({detail})", False, "first-loss")


def judge(verification: Mapping[str, Any] | None, problems: Sequence[Problem],
          reference_calls: int | None = None, values_only: bool = False) -> Verdict:
    """The verdict for the final fixed run, given every problem fixed along the way.

    `values_only`: the reference replayed a forward write outside autograd (a view error),
    so only its first loss can judge the fix.
    """
    if not verification:
        return Verdict(False, "not-verified", "the fixed run wrote no verification (runtime --compare)")
    calls = verification.get("backward_calls")
    if not _flag(verification, "backward_ok"):
        return Verdict(False, "not-verified", "backward still fails in the fixed run")
    if not calls:
        return Verdict(False, "not-verified", "the fixed run made no backward call")
    if reference_calls and calls < reference_calls:
        return Verdict(False, "not-verified",
                       f"the fixed run made {calls} backward calls, the reference {reference_calls}")

    if values_only and verification.get("reference_backward_calls"):
        return _judge_first_loss(verification)
    if not reference_calls and not verification.get("reference_backward_calls"):
        # The original never reached backward (leaf error, view error): nothing to compare with.
        has_grad = _leaf_gets_grad(verification, problems)
        if has_grad is False:
            return Verdict(False, "not-verified", "the modified leaf no longer receives a gradient",
                           False, "leaf-gradient")
        if has_grad is None:
            return Verdict(False, "not-verified",
                           "the runtime did not say whether the leaf still receives a gradient",
                           False, "leaf-gradient")
        return Verdict(True, "fixed", f"the leaves receive gradients ({calls} backward calls); "
                       "values were not compared: the original never reached backward", False, "leaf-gradient")

    matches = (_flag(verification, "losses_equal") and _flag(verification, "grads_equal")
               and verification.get("same_leaves", True) is True)
    if matches:
        return Verdict(True, "fixed", f"loss and gradients match the reference (max diff {_diff(verification)})")

    if any(is_silent_problem(p) for p in problems):
        return _judge_changed_gradients(verification)

    reasons = []
    if not _flag(verification, "losses_equal"):
        reasons.append("the loss differs from the reference")
    if verification.get("same_leaves", True) is not True:
        reasons.append("a different set of leaves receives gradients")
    if not _flag(verification, "grads_equal"):
        reasons.append(f"gradients differ from the reference (max diff {_diff(verification)})")
    return Verdict(False, "not-verified", "; ".join(reasons) or "the fixed run does not match the reference")


def summary_line(verdict: Verdict, problems: int, files: int, verification: Mapping[str, Any] | None) -> str:
    """The last line of the human output: one sentence a user can trust."""
    noun = "problem" if problems == 1 else "problems"
    fnoun = "file" if files == 1 else "files"
    if verdict.verified:
        return f"fixed {problems} {noun} in {files} {fnoun}; backward passes; {verdict.why}"
    return f"not fixed: {verdict.why}; every edited file was restored byte for byte"
