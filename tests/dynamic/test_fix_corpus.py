"""Every failing corpus script through the real CLI: `inplace-fix SCRIPT --apply --json`.

Each script runs in a scratch copy. Fixable scripts must end `fixed`, rewritten exactly
as their golden `<name>.fixed.py`, verified against the reference; on every other case, a second --apply on
the result (the golden, byte for byte) is clean, writes nothing, and prints the
reference's losses.
Unfixable ones must be refused (files byte-identical) with the hand-fix advice.
The CLI runs are started for every selected case at once on a small pool (most of a
run is torch's import), so the module stays within a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from diagnose_helpers import run_cli
from fix_corpus_support import Case, cases, localization_errors, loss_lines, snapshot

CASES = {case.name: case for case in cases()}
FIXABLE = sorted(name for name, case in CASES.items() if case.fixable)
UNFIXABLE = sorted(name for name, case in CASES.items() if not case.fixable)
# The pattern whose first candidate (the write out of place) changes the loss: with one
# candidate allowed the verifier must reject it and roll back; with the default, the next
# candidate (cloning where the tensor is saved) verifies.
LOSS_CHANGING = "inplace_on_callers_tensor_shared_input"
ONE_CANDIDATE = ("--max-candidates", "1")
WORKERS = max(2, min(4, os.cpu_count() or 2))
# The second --apply (on the fixed copy: clean, nothing written) costs a diagnosis run per case:
# every other fixable case here, all of them in `benchmarks/fix_rate.py` (second_apply_not_clean).
SECOND_RUN = frozenset(FIXABLE[::2])


def _cli_args(case: Case, options: tuple[str, ...] = ()) -> list[str]:
    return [case.entry, "--apply", "--json", *options, *(["--", *case.args] if case.args else [])]


def _run_case(case: Case, base: Path, options: tuple[str, ...] = ()) -> dict[str, Any]:
    root = case.copy_to(base / "apply")
    out: dict[str, Any] = {"root": root, "before": snapshot(root)}
    first = run_cli(*_cli_args(case, options), cwd=root, timeout=300)
    if options:
        out["after"] = snapshot(root)
        out["first"] = first
        return out
    out["first"], out["after"] = first, snapshot(root)
    if case.fixable and first.returncode == 0 and case.name in SECOND_RUN:
        # the rewritten copy, now byte for byte the golden, runs again: it must be clean, and
        # (the runtime changes nothing in a clean script) its output is the golden's own
        out["second"] = run_cli(*_cli_args(case), cwd=root, timeout=300)
        out["after_second"] = snapshot(root)
    return out


class Runs:
    """Cases started on a pool; `get` waits for one (and starts it if nobody had)."""

    def __init__(self, pool: ThreadPoolExecutor, factory: pytest.TempPathFactory) -> None:
        self.pool, self.factory, self.futures = pool, factory, {}

    def start(self, name: str, options: tuple[str, ...] = ()) -> None:
        if (name, options) not in self.futures:
            self.futures[name, options] = self.pool.submit(_run_case, CASES[name], self.factory.mktemp(name), options)

    def get(self, name: str, options: tuple[str, ...] = ()) -> dict[str, Any]:
        self.start(name, options)
        return self.futures[name, options].result()


@pytest.fixture(scope="session")
def corpus_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start every selected case at once; each test waits for its own."""
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    runs = Runs(pool, tmp_path_factory)
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("name") in CASES:
            runs.start(params["name"])
        elif item.name == "test_rollback_when_the_only_candidate_allowed_changes_the_loss":
            runs.start(LOSS_CHANGING, ONE_CANDIDATE)
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


def _result(corpus_runs: Runs, name: str) -> dict[str, Any]:
    return corpus_runs.get(name)


def _report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"no JSON on stdout (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


@pytest.mark.parametrize("name", FIXABLE)
def test_fixable_script_is_fixed_exactly_as_the_golden(corpus_runs, name: str) -> None:
    case, run = CASES[name], _result(corpus_runs, name)
    first = run["first"]
    report = _report(first)
    assert (report["status"], first.returncode) == ("fixed", 0), (report.get("why"), first.stderr[-3000:])
    # the diagnosis (round 1 is the reference run's) names exactly the header's lines; after a
    # view error the reference replays the write and may go on to more (the dry run is checked
    # exactly in test_corpus_diagnose.py)
    errors = localization_errors(case, report["rounds"][0]["problems"], run["root"])
    if any(e.get("kind") == "view-modified" for e in case.expects):
        errors = [e for e in errors if not e.startswith("unexpected")]
    assert not errors, errors
    # the exact rewritten source: every golden file byte for byte, every other file untouched
    for rel, data in run["before"].items():
        expected = case.goldens[rel].read_bytes() if rel in case.goldens else data
        assert run["after"][rel] == expected, f"{rel} differs from its golden"
    assert sorted(report["files_changed"]) == sorted(case.goldens)
    # verification fields
    verification = report["verification"]
    assert verification["verified"] is True and verification["backward_ok"] is True
    assert verification["backward_calls"] >= 1
    changes_losses = any(e.get("losses") == "change" for e in case.expects)
    if changes_losses:  # a `.data` write made visible: same first loss, new gradients, the loss decides
        assert verification["method"] == "finite-difference"
        assert verification["first_grad_diff_call"] == 1 and verification["first_loss_diff_call"] != 1
        check = verification["fd_check"]
        assert check["ok"] is True and check["rel_err"] <= check["tolerance"], check
    elif verification["method"] == "first-loss":  # a view error: the reference replayed the write without autograd
        assert verification["first_loss_diff_call"] != 1 and verification["reference_backward_calls"] >= 1
        assert verification["fd_check"]["ok"] is True, verification["fd_check"]  # the new gradients, proven
    elif verification["values_compared"]:
        assert verification["losses_equal"] is True and verification["same_leaves"] is True
        assert verification["grads_equal"] is True and verification["max_grad_diff"] <= 1e-6
    assert report["rounds"] and report["rounds"][-1]["status"] == "fixed"
    assert report["summary"].startswith("fixed ") and "backward passes" in report["summary"]
    assert all(p["fix"] for r in report["rounds"] for p in r["problems"])
    assert not list(Path(run["root"]).glob(".inplace-fix/journal/*")), "a finished run leaves no journal"
    if verification["method"] == "first-loss":
        assert "the first loss matches the original's forward pass" in report["summary"]
    elif not verification["values_compared"]:  # the original raised before its first backward
        assert "values were not compared" in report["summary"]
    if name not in SECOND_RUN:
        return
    # a second --apply finds nothing and writes nothing
    second = run["second"]
    assert (_report(second)["status"], second.returncode) == ("clean", 0)
    assert run["after_second"] == run["after"]
    assert not list(Path(run["root"]).glob(".inplace-fix/journal/*")), "a finished run leaves no journal"
    # the golden (what the second run ran) prints the reference run's losses
    golden_output = second.stderr  # with --json the script's own output goes to stderr
    reference = loss_lines(first.stderr)
    if verification["method"] == "first-loss":
        assert reference and loss_lines(golden_output)[:1] == reference[:1]
    elif verification["values_compared"]:
        assert reference, "the reference run printed no losses"
        compared = reference[:1] if changes_losses else reference  # later steps follow the new gradients
        assert loss_lines(golden_output)[:len(compared)] == compared
    else:  # nothing to compare, but the fix runs
        assert loss_lines(golden_output)


@pytest.mark.parametrize("name", UNFIXABLE)
def test_unfixable_script_is_refused_with_advice_and_left_untouched(corpus_runs, name: str) -> None:
    case, run = CASES[name], _result(corpus_runs, name)
    first = run["first"]
    report = _report(first)
    assert first.returncode == 1, first.stderr[-3000:]
    assert report["status"] in ("unfixable", "not-verified")
    assert run["after"] == run["before"]
    assert report["files_changed"] == []
    advice = " ".join(filter(None, [report.get("why"), *(p.get("why_unfixable") for p in report["problems"])]))
    assert advice
    if all(e.get("rule") == "-" for e in case.expects):  # optimizer.step() between forward and backward
        assert "step" in advice and "backward" in advice and "by hand" in advice


def test_rollback_when_the_only_candidate_allowed_changes_the_loss(corpus_runs) -> None:
    run = corpus_runs.get(LOSS_CHANGING, ONE_CANDIDATE)
    report = _report(run["first"])
    assert report["status"] == "not-verified" and run["first"].returncode == 1
    assert "loss differs" in report["why"]
    assert report["restored"] == [], "the rewrite was verified in memory: nothing was written to restore"
    assert report["summary"].endswith("; no file was changed")
    assert run["after"] == run["before"]  # byte-identical, every file
    assert report["verification"]["losses_equal"] is False
    tried = report["problems"][0]["candidates"]
    assert [(c["strategy"], c["status"]) for c in tried] == [("out-of-place", "rejected"), ("clone-at-save", "untried")]


def test_the_next_candidate_verifies_when_the_first_changes_the_loss(corpus_runs) -> None:
    report = _report(corpus_runs.get(LOSS_CHANGING)["first"])
    tried = report["problems"][0]["candidates"]
    assert [(c["strategy"], c["status"]) for c in tried] == [("out-of-place", "rejected"), ("clone-at-save", "verified")]
    assert "the loss differs from the reference" in tried[0]["why"]
    assert report["problems"][0]["fix"]["strategy"] == "clone-at-save"


def test_corpus_has_both_kinds() -> None:
    assert FIXABLE and UNFIXABLE and LOSS_CHANGING in FIXABLE
