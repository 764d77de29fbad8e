"""--fd-check: the float64 directional finite-difference check of gradients a fix changed on purpose."""
from __future__ import annotations

import math
from pathlib import Path

import torch

from inplace_fix import finite_difference as fdiff
from inplace_fix.launcher import finite_difference_check
from inplace_fix.runtime import finite_difference as fd
from launcher_helpers import engine_run, request_for
from runtime_helpers import launch, write

# A `.data` write the forward reads again: fc2 sees the halved h, sigmoid's backward too.
SILENT = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(4, 6), nn.Linear(6, 1)
    opt = torch.optim.SGD([*fc1.parameters(), *fc2.parameters()], lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    for step in range(3):
        opt.zero_grad()
        h = torch.sigmoid(fc1(x))
        h.data.mul_(0.5)
        loss = F.mse_loss(fc2(h), y)
        loss.backward()
        opt.step()
"""
VISIBLE = SILENT.replace("h.data.mul_(0.5)", "h = h.mul(0.5)")


def test_the_visible_fix_is_confirmed_by_the_loss(tmp_path: Path) -> None:
    original, fixed = write(tmp_path, "orig.py", SILENT), write(tmp_path, "fixed.py", VISIBLE)
    rec = tmp_path / "ref.pt"
    launch(original, "--record", str(rec), "--clone-on-write")
    rep, _ = engine_run(fixed, "--compare", str(rec), "--fd-check")  # the two float64 runs are the engine's
    v = rep["verification"]
    assert v["grads_equal"] is False and v["first_grad_diff_call"] == 1
    assert v["first_loss_diff_call"] == 2  # same loss at call 1; the corrected step changes later ones
    check = v["fd_check"]
    assert check["available"] is True and check["ok"] is True, check
    assert check["rel_err"] < 1e-8 and check["dtype"] == "float64" and check["leaves"] == 4
    assert math.isclose(check["analytic"], check["numeric"], rel_tol=1e-8)


def test_the_check_rejects_the_silently_wrong_gradients(tmp_path: Path) -> None:
    original = write(tmp_path, "orig.py", SILENT)
    check = finite_difference_check(request_for(original, root=tmp_path))
    assert check["available"] is True and check["ok"] is False, check
    assert check["rel_err"] > 100 * check["tolerance"]


def test_no_check_when_the_gradients_match_the_reference(tmp_path: Path) -> None:
    fixed = write(tmp_path, "fixed.py", VISIBLE)
    rec = tmp_path / "ref.pt"
    launch(fixed, "--record", str(rec))
    rep, _ = engine_run(fixed, "--compare", str(rec), "--fd-check")
    assert rep["verification"]["grads_equal"] is True and "fd_check" not in rep["verification"]


def test_a_script_that_pins_float32_has_no_check_and_says_why(tmp_path: Path) -> None:
    pinned = write(tmp_path, "pinned.py", VISIBLE.replace("torch.randn(8, 4)", "torch.randn(8, 4, dtype=torch.float32)"))
    check = finite_difference_check(request_for(pinned, root=tmp_path))
    assert check["available"] is False
    assert check["why"].startswith("the script does not run in float64 (RuntimeError:"), check


def test_the_nudge_lands_before_the_first_use_and_after_late_initialisation() -> None:
    torch.set_default_dtype(torch.float64)
    try:
        lin = torch.nn.Linear(3, 2)
        before = lin.weight.detach().clone()
        nudger = fd.Nudger(1.0)
        with nudger:  # `.data` reads the values without counting as a use
            assert lin.weight.shape == (2, 3) and lin.weight.numel() == 6
            assert torch.equal(lin.weight.data, before)  # metadata reads do not nudge
            lin(torch.ones(1, 3))
            moved = lin.weight.data - before
            assert not torch.equal(moved, torch.zeros_like(moved))
            lin(torch.ones(1, 3))
            assert torch.equal(lin.weight.data - before, moved)  # once per leaf
            with torch.no_grad():
                lin.weight.fill_(0.25)  # a late initialisation overwrites the nudge...
            lin(torch.ones(1, 3))
        assert torch.allclose(lin.weight.detach() - 0.25, moved)  # ...so it is applied again
        assert [list(t.shape) for t, _, _ in nudger.leaves] == [[2, 3], [2]]
    finally:
        torch.set_default_dtype(torch.float32)


def test_compare_needs_both_runs_and_the_same_leaves() -> None:
    run = {"fd": {"loss": 1.0, "directional": 2.0, "leaves": [[2]]}, "problems": [], "script_error": None}
    other = {"fd": {"loss": 1.0 - 4e-6, "directional": 2.0, "leaves": [[2]]}, "problems": [], "script_error": None}
    assert fdiff.compare(run, other, 1e-6)["ok"] is True
    assert fdiff.compare(run, {**other, "fd": {**other["fd"], "leaves": [[3]]}}, 1e-6) == {
        "available": False, "why": "the two float64 runs used different leaves"}
    assert fdiff.compare(run, {"script_error": {"type": "RuntimeError", "message": "x"}}, 1e-6)["available"] is False
    flat = {"fd": {"loss": 1.0, "directional": 0.0, "leaves": [[2]]}, "problems": [], "script_error": None}
    assert "does not depend" in fdiff.compare(flat, flat, 1e-6)["why"]
