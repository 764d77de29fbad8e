"""--apply's rounds with a scripted runtime: edit in memory, verify, write only a verified fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inplace_fix.request import Request
from inplace_fix.exit_codes import ExitCode
from inplace_fix.fixer.apply import apply_fix
from inplace_fix.fixer.planner import plan_all
from inplace_fix.render.outcome import render_outcome as render_text
from inplace_fix.console import Console
from fix_fakes import GOOD, ScriptedRuntime, fake_locate, fake_rewrite, problem, report

# CRLF, a BOM and a non-ASCII comment: rollback must give these exact bytes back.
ORIGINAL = "\ufeff# caf\u00e9\r\nimport torch\r\n\r\ndef f(x):\r\n    x += 1\r\n    return x\r\n".encode("utf-8")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_bytes(ORIGINAL)
    os.chmod(path, 0o640)
    return path


def _apply(script: Path, runtime: ScriptedRuntime, **kw):
    def planner(problems, root, rep, read=None):
        return plan_all(problems, root, rep, locate=fake_locate, read=read)

    request = Request(script=script.name, root=str(script.parent), cwd=str(script.parent))
    return apply_fix(request, runner=runtime, planner=planner, rewrite=fake_rewrite, cwd=script.parent, **kw)


def test_fixed_when_the_rerun_matches_the_reference(script: Path) -> None:
    runtime = ScriptedRuntime([report([problem(script, 5)]), report(verification=GOOD)])
    outcome = _apply(script, runtime)
    assert (outcome.status, outcome.exit_code) == ("fixed", ExitCode.OK)
    assert script.read_bytes() == ORIGINAL.replace(b"x += 1", b"x = x + 1")
    assert oct(os.stat(script).st_mode & 0o777) == "0o640"
    assert runtime.calls[0] == {"record": runtime.calls[0]["record"], "clone_on_write": True, "echo": False}
    assert runtime.calls[1]["compare"] == runtime.calls[0]["record"]
    assert outcome.files == ("train.py",)
    assert outcome.summary == ("fixed 1 problem in 1 file; backward passes; "
                               "loss and gradients match the reference (max diff 0.0)")
    data = outcome.to_json()
    assert data["status"] == "fixed" and data["verification"]["grads_equal"] is True
    assert data["problems"][0]["fix"]["rule"] == "IPF001"
    assert "+    x = x + 1\r\n" in data["problems"][0]["fix"]["diff"]
    assert [r["round"] for r in data["rounds"]] == [1]
    assert render_text(outcome, Console(color=False)).rstrip().endswith(outcome.summary)


@pytest.mark.parametrize("verification, why", [
    ({**GOOD, "losses_equal": False}, "the loss differs"),
    ({**GOOD, "grads_equal": False, "max_grad_diff": 0.25}, "max diff 0.25"),
    ({**GOOD, "same_leaves": False}, "different set of leaves"),
    ({**GOOD, "backward_ok": False}, "backward still fails"),
    (None, "no verification"),
])
def test_anything_not_verified_is_never_written(script: Path, verification, why) -> None:
    inode = os.stat(script).st_ino

    def rerun():  # while the fix is verified, the user's file is still the original, same inode
        assert script.read_bytes() == ORIGINAL and os.stat(script).st_ino == inode
        return report(verification=verification)

    runtime = ScriptedRuntime([report([problem(script, 5)]), rerun])
    outcome = _apply(script, runtime)
    assert (outcome.status, outcome.exit_code) == ("not-verified", ExitCode.FOUND)
    assert script.read_bytes() == ORIGINAL and os.stat(script).st_ino == inode
    assert oct(os.stat(script).st_mode & 0o777) == "0o640"
    assert why in outcome.why and outcome.restored == ()
    assert outcome.summary.endswith("; no file was changed")
    assert not [p for p in script.parent.iterdir() if p.name.endswith(".ipf-tmp")]
    assert not list((script.parent / ".inplace-fix").glob("journal/*")), "no journal is left behind"


def test_the_rerun_reads_the_edit_from_the_overlay(script: Path) -> None:
    import json

    seen = {}

    def rerun():
        seen.update(json.loads(Path(runtime.targets[-1].overlay).read_text())["files"])
        return report(verification=GOOD)

    runtime = ScriptedRuntime([report([problem(script, 5)]), rerun])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed" and runtime.targets[0].overlay is None
    assert list(seen) == [str(script.resolve())]
    assert "x = x + 1" in seen[str(script.resolve())]["text"]


def test_an_edit_the_overlay_did_not_reach_is_verified_on_disk_and_restored(script: Path) -> None:
    on_disk = []

    def rerun(served):
        def make():
            on_disk.append(script.read_bytes())
            return report(verification={**GOOD, "losses_equal": False}, overlay={"served": served})
        return make

    # the first re-run did not read train.py through the overlay (another process imported it):
    # the edit is written under the journal and the run repeated, then restored when refuted
    runtime = ScriptedRuntime([report([problem(script, 5)]), rerun([]), rerun([])])
    outcome = _apply(script, runtime)
    assert len(runtime.calls) == 3 and runtime.targets[2].overlay is None
    assert on_disk[0] == ORIGINAL and on_disk[1] == ORIGINAL.replace(b"x += 1", b"x = x + 1")
    assert outcome.status == "not-verified" and outcome.restored == ("train.py",)
    assert "restored byte for byte" in outcome.summary
    assert script.read_bytes() == ORIGINAL and oct(os.stat(script).st_mode & 0o777) == "0o640"
    assert not list((script.parent / ".inplace-fix").glob("journal/*"))


def test_a_second_bug_behind_the_first_gets_a_second_round(script: Path, tmp_path: Path) -> None:
    other = tmp_path / "model.py"
    other.write_text("act = nn.ReLU(inplace=True)\n")
    second = problem(other, 1, "IPF004", construction_at={"file": str(other), "line": 1, "col": 6})
    runtime = ScriptedRuntime([report([problem(script, 5)]), report([second], verification=None),
                               report(verification=GOOD)])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed" and len(outcome.rounds) == 2
    assert other.read_text() == "act = nn.ReLU(inplace=False)\n"
    assert outcome.summary.startswith("fixed 2 problems in 2 files;")
    assert [r.status for r in outcome.rounds] == ["found", "fixed"]


def test_rounds_stop_at_max_rounds_and_roll_back(script: Path, tmp_path: Path) -> None:
    other = tmp_path / "model.py"
    other.write_bytes(b"a = nn.ReLU(inplace=True)\nb = nn.ReLU(inplace=True)\n")
    p1 = problem(other, 1, "IPF004")
    p2 = problem(other, 2, "IPF004")
    p1["modified_at"]["code"], p2["modified_at"]["code"] = "a(x)", "b(x)"
    runtime = ScriptedRuntime([report([problem(script, 5)]), report([p1]), report([p2])])
    outcome = _apply(script, runtime, max_rounds=2)
    assert outcome.status == "not-verified" and "--max-rounds" in outcome.why
    assert script.read_bytes() == ORIGINAL
    assert other.read_bytes() == b"a = nn.ReLU(inplace=True)\nb = nn.ReLU(inplace=True)\n"


def test_unfixable_writes_nothing(script: Path) -> None:
    step = problem(script, 6, "IPF002", library_frames=[{"file": "/v/site-packages/torch/optim/sgd.py"}])
    runtime = ScriptedRuntime([report([step])])
    outcome = _apply(script, runtime)
    assert (outcome.status, outcome.exit_code) == ("unfixable", ExitCode.FOUND)
    assert script.read_bytes() == ORIGINAL and len(runtime.calls) == 1
    assert "optimizer step" in outcome.problems[0].why_unfixable
    assert outcome.problems[0].fix is None


def test_one_unfixable_problem_means_no_partial_edit(script: Path) -> None:
    step = problem(script, 6, "IPF002", library_frames=[{"file": "/v/site-packages/torch/optim/sgd.py"}])
    runtime = ScriptedRuntime([report([problem(script, 5), step])])
    outcome = _apply(script, runtime)
    assert outcome.status == "unfixable" and script.read_bytes() == ORIGINAL
    assert outcome.problems[0].fix.rule == "IPF001"  # shown as the proposal, not written


def test_clean_script_and_script_errors(script: Path) -> None:
    assert _apply(script, ScriptedRuntime([report()])).status == "clean"
    failed = report(script_error={"type": "ValueError", "message": "boom", "traceback": ""}, status="script-error")
    outcome = _apply(script, ScriptedRuntime([failed]))
    assert (outcome.status, outcome.exit_code) == ("script-error", ExitCode.SCRIPT_FAILED)
    outcome = _apply(script, ScriptedRuntime([None], timed_out=[True]))
    assert (outcome.status, outcome.exit_code) == ("timeout", ExitCode.SCRIPT_FAILED)
    assert script.read_bytes() == ORIGINAL


def test_fixed_script_that_fails_otherwise_is_rolled_back(script: Path) -> None:
    crash = report(script_error={"type": "NameError", "message": "name 'y' is not defined", "traceback": ""})
    outcome = _apply(script, ScriptedRuntime([report([problem(script, 5)]), crash]))
    assert outcome.status == "not-verified" and "NameError" in outcome.why
    assert script.read_bytes() == ORIGINAL


def test_leaf_error_is_verified_without_values(script: Path) -> None:
    leaf = problem(script, 5, "IPF001", kind="leaf-modified", saved_at=None)
    runtime = ScriptedRuntime([report([leaf], backward_calls=0),
                               report(verification={"backward_ok": True, "backward_calls": 3,
                                                    "losses_equal": False, "grads_equal": False,
                                                    "leaf_has_grad": True})])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed"
    assert outcome.verdict.values_compared is False and "values were not compared" in outcome.summary
    data = outcome.to_json()
    assert data["verification"]["values_compared"] is False


def test_leaf_error_that_loses_its_gradient_is_not_verified(script: Path) -> None:
    leaf = problem(script, 5, "IPF001", kind="leaf-modified", saved_at=None)
    runtime = ScriptedRuntime([report([leaf], backward_calls=0),
                               report(verification={"backward_ok": True, "backward_calls": 3,
                                                    "leaf_has_grad": False})])
    outcome = _apply(script, runtime)
    assert outcome.status == "not-verified" and script.read_bytes() == ORIGINAL


CHANGED = {**GOOD, "losses_equal": False, "grads_equal": False, "max_grad_diff": 0.5,
           "first_grad_diff_call": 1, "first_loss_diff_call": 2}
FD_OK = {"available": True, "ok": True, "analytic": 0.192, "numeric": 0.192, "rel_err": 1e-10}


def test_silent_data_fix_needs_the_finite_difference_check(script: Path) -> None:
    silent = problem(script, 5, "IPF001", kind="silent-data-mutation", error=None)
    outcome = _apply(script, ScriptedRuntime([report([silent]), report(verification=CHANGED)]))
    assert outcome.status == "not-verified" and "0.5" in outcome.why and script.read_bytes() == ORIGINAL
    runtime = ScriptedRuntime([report([silent]), report(verification={**CHANGED, "fd_check": FD_OK})])
    outcome = _apply(script, runtime)
    assert outcome.status == "fixed" and outcome.verdict.method == "finite-difference"
    assert runtime.calls[1]["fd_check"] is True
    assert "finite-difference check of the loss confirms them (analytic 0.192, numeric 0.192, rel_err 1e-10)" \
        in outcome.summary and "later losses follow the corrected gradients" in outcome.summary


@pytest.mark.parametrize("verification, why", [
    ({**CHANGED, "fd_check": {**FD_OK, "ok": False, "numeric": 0.25, "rel_err": 0.23}},
     "finite-difference check of the loss disagrees with them (analytic 0.192, numeric 0.25, rel_err 0.23)"),
    ({**CHANGED, "fd_check": {"available": False, "why": "the script does not run in float64 (RuntimeError: x)"}},
     "not available: the script does not run in float64 (RuntimeError: x)"),
    ({**CHANGED, "first_loss_diff_call": 1, "fd_check": FD_OK}, "the loss differs from the original's at backward call 1"),
    ({**CHANGED, "first_grad_diff_call": 2, "first_loss_diff_call": 3, "fd_check": FD_OK},
     "changed from the original's by up to 0.5 from backward call 2 on; the finite-difference check covers"),
])
def test_silent_data_fix_that_the_loss_does_not_confirm_is_rolled_back(script: Path, verification, why) -> None:
    silent = problem(script, 5, "IPF001", kind="silent-data-mutation", error=None)
    outcome = _apply(script, ScriptedRuntime([report([silent]), report(verification=verification)]))
    assert outcome.status == "not-verified" and why in outcome.why, outcome.why
    assert script.read_bytes() == ORIGINAL


def test_an_interrupted_round_still_rolls_back(script: Path) -> None:
    def boom():
        raise KeyboardInterrupt

    runtime = ScriptedRuntime([report([problem(script, 5)]), boom])
    with pytest.raises(KeyboardInterrupt):
        _apply(script, runtime)
    assert script.read_bytes() == ORIGINAL


def test_a_rewrite_that_crashes_is_reported_not_raised(script: Path) -> None:
    def planner(problems, root, rep, read=None):
        return plan_all(problems, root, rep, locate=fake_locate, read=read)

    def broken(source, targets):
        raise RuntimeError("rule bug")

    request = Request(script=script.name, root=str(script.parent), cwd=str(script.parent))
    outcome = apply_fix(request, runner=ScriptedRuntime([report([problem(script, 5)])]), planner=planner,
                        rewrite=broken, cwd=script.parent)
    assert outcome.status == "unfixable" and "rule bug" in outcome.why and script.read_bytes() == ORIGINAL


def test_a_rewrite_that_does_not_remove_the_problem_stops_early(script: Path) -> None:
    first = problem(script, 5)
    first["modified_at"]["code"] = "x += 1"
    again = problem(script, 6)  # the same write, one line lower after the rewrite
    again["modified_at"]["code"] = "x += 1"
    runtime = ScriptedRuntime([report([first]), report([again])])
    outcome = _apply(script, runtime)
    assert outcome.status == "not-verified" and "did not remove the problem" in outcome.why
    assert len(runtime.calls) == 2 and script.read_bytes() == ORIGINAL


def test_a_file_saved_by_the_user_during_verification_is_not_overwritten(script: Path) -> None:
    def rerun():  # the user's editor saves the file while the re-run verifies the fix
        script.write_bytes(ORIGINAL + b"# my own change\r\n")
        return report(verification=GOOD)

    outcome = _apply(script, ScriptedRuntime([report([problem(script, 5)]), rerun]))
    assert outcome.status == "not-verified" and outcome.files == ()
    assert "train.py changed on disk while the fix was being verified" in outcome.why
    assert script.read_bytes() == ORIGINAL + b"# my own change\r\n"
