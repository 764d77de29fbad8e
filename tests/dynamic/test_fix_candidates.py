"""--apply verifies a problem's candidate fixes in turn and reports every one it tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from inplace_fix.console import Console
from inplace_fix.fixer.apply import apply_fix
from inplace_fix.fixer.model import Plan, PlannedFix
from inplace_fix.render.outcome import render_outcome
from inplace_fix.request import Request
from fix_fakes import GOOD, ScriptedRuntime, fake_rewrite, problem, report

ORIGINAL = b"import torch\n\ndef f(x):\n    y = g(x, inplace=True)\n    x += 1\n    return x + y\n"
WRITE_SITE = b"    x = x + 1\n"
FLAG = b"    y = g(x, inplace=False)\n"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_bytes(ORIGINAL)
    return path


def _planner(script: Path, order: tuple[str, ...] = ("IPF001", "IPF004")):
    """Two candidates for the one problem: the write out of place (line 5), the flag (line 4)."""
    where = {"IPF001": (5, 4), "IPF004": (4, 13)}

    def planner(problems, root, rep, read=None):
        fixes = [PlannedFix(0, code, script, *where[code], f"apply {code}", "modified_at") for code in order]
        return Plan((fixes[0],), (), tuple(fixes[1:]))

    return planner


def _apply(script: Path, runtime: ScriptedRuntime, planner=None, rewrite=fake_rewrite, **kw):
    request = Request(script=script.name, root=str(script.parent), cwd=str(script.parent))
    return apply_fix(request, runner=runtime, planner=planner or _planner(script), rewrite=rewrite,
                     cwd=script.parent, **kw)


def _candidates(outcome) -> list[tuple[str, str]]:
    return [(c["rule"], c["status"]) for c in outcome.to_json()["problems"][0]["candidates"]]


def test_a_refuted_candidate_gives_way_to_the_next(script: Path) -> None:
    refuted = {**GOOD, "grads_equal": False, "max_grad_diff": 0.25}
    runtime = ScriptedRuntime([report([problem(script, 5)]), report(verification=refuted),
                               report(verification=GOOD)])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed"
    data = script.read_bytes()
    assert FLAG in data and WRITE_SITE not in data  # only the verified candidate stays on disk
    assert len(runtime.calls) == 3  # the reference, then one run per candidate
    assert _candidates(outcome) == [("IPF001", "rejected"), ("IPF004", "verified")]
    first = outcome.to_json()["problems"][0]["candidates"][0]
    assert "gradients differ from the reference (max diff 0.25)" in first["why"]
    assert outcome.to_json()["problems"][0]["fix"]["rule"] == "IPF004"
    text = render_outcome(outcome, Console(color=False))
    assert "rejected" in text and "max diff 0.25" in text


def test_max_candidates_bounds_the_runs_and_everything_is_restored(script: Path) -> None:
    runtime = ScriptedRuntime([report([problem(script, 5)]), report(verification={**GOOD, "losses_equal": False})])
    outcome = _apply(script, runtime, max_candidates=1)
    assert outcome.status == "not-verified" and script.read_bytes() == ORIGINAL
    assert len(runtime.calls) == 2
    assert _candidates(outcome) == [("IPF001", "rejected"), ("IPF004", "untried")]
    assert "the loss differs" in outcome.why


def test_every_candidate_refuted_names_each_and_restores_the_file(script: Path) -> None:
    runtime = ScriptedRuntime([report([problem(script, 5)]),
                               report(verification={**GOOD, "losses_equal": False}),
                               report(verification={**GOOD, "grads_equal": False, "max_grad_diff": 1.5})])
    outcome = _apply(script, runtime)
    assert outcome.status == "not-verified" and script.read_bytes() == ORIGINAL
    assert _candidates(outcome) == [("IPF001", "rejected"), ("IPF004", "rejected")]
    assert "no candidate fix verified (2 tried)" in outcome.why
    assert "the loss differs" in outcome.why and "max diff 1.5" in outcome.why


def test_a_declined_candidate_costs_no_run(script: Path) -> None:
    def declines_ipf001(source, targets):
        return fake_rewrite(source, {code: ps for code, ps in targets.items() if code != "IPF001"})

    runtime = ScriptedRuntime([report([problem(script, 5)]), report(verification=GOOD)])
    outcome = _apply(script, runtime, rewrite=declines_ipf001)
    assert outcome.status == "fixed" and FLAG in script.read_bytes()
    assert len(runtime.calls) == 2
    assert _candidates(outcome) == [("IPF001", "declined"), ("IPF004", "verified")]


def test_a_candidate_that_leaves_the_problem_is_replaced(script: Path) -> None:
    same = problem(script, 5)
    runtime = ScriptedRuntime([report([same]), report([same]), report(verification=GOOD)])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed" and FLAG in script.read_bytes() and WRITE_SITE not in script.read_bytes()
    rejected = outcome.to_json()["problems"][0]["candidates"][0]
    assert rejected["status"] == "rejected" and "did not remove the problem" in rejected["why"]


@pytest.mark.parametrize("verification, status, why", [
    ({**GOOD, "losses_equal": False, "grads_equal": False, "first_loss_diff_call": 2, "first_grad_diff_call": 1,
      "reference_backward_calls": 3, "fd_check": {"ok": True, "rel_err": 1e-10, "analytic": 1.0, "numeric": 1.0}},
     "fixed", "a float64 finite-difference check of the loss confirms the gradients"),
    ({**GOOD, "losses_equal": False, "first_loss_diff_call": 1, "reference_backward_calls": 3},
     "not-verified", "the first loss differs from the original's forward pass"),
    ({**GOOD, "grads_equal": False, "first_grad_diff_call": 1, "reference_backward_calls": 3,
      "fd_check": {"ok": False, "rel_err": 0.2, "analytic": 1.0, "numeric": 0.8}},
     "not-verified", "disagrees with the new gradients"),
])
def test_a_view_error_fix_is_judged_by_the_replayed_first_loss(script: Path, verification, status, why) -> None:
    """The original raised in its forward pass: the reference replayed the write outside autograd,
    so its first loss is the oracle (and the finite-difference check speaks for the gradients)."""
    view = problem(script, 5, kind="view-modified")
    runtime = ScriptedRuntime([report([view], values_only_reference=True),
                               report(verification=verification), report(verification=verification)])
    outcome = _apply(script, runtime, max_candidates=1)
    assert outcome.status == status and why in outcome.why
    assert runtime.calls[1]["fd_check"] is True  # the fixed run is asked for the finite-difference check
