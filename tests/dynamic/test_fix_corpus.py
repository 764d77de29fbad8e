"""Every failing corpus script through the real CLI: `inplace-fix SCRIPT --apply --json`.

Each script runs in a scratch copy. Fixable scripts must end `fixed`, rewritten exactly
as their golden `<name>.fixed.py`, verified against the reference; a second --apply is
clean and writes nothing; the golden file run plainly prints the reference's losses.
Unfixable ones must be refused (files byte-identical) with the hand-fix advice.
The CLI runs are started for every selected case at once on a small pool (most of a
run is torch's import), so the module stays within a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from diagnose_helpers import run_cli
from fix_corpus_support import Case, cases, loss_lines, snapshot

CASES = {case.name: case for case in cases()}
FIXABLE = sorted(name for name, case in CASES.items() if case.fixable)
UNFIXABLE = sorted(name for name, case in CASES.items() if not case.fixable)
# The one pattern whose only rewrite changes the loss: the verifier must reject and roll back.
LOSS_CHANGING = "inplace_on_callers_tensor_shared_input"
WORKERS = max(2, min(4, os.cpu_count() or 2))


def _cli_args(case: Case) -> list[str]:
    return [case.entry, "--apply", "--json", *(["--", *case.args] if case.args else [])]


def _run_case(case: Case, base: Path) -> dict[str, Any]:
    root = case.copy_to(base / "apply")
    out: dict[str, Any] = {"root": root, "before": snapshot(root)}
    first = run_cli(*_cli_args(case), cwd=root, timeout=300)
    out["first"], out["after"] = first, snapshot(root)
    if case.fixable and first.returncode == 0:
        out["second"] = run_cli(*_cli_args(case), cwd=root, timeout=300)
        out["after_second"] = snapshot(root)
    if case.goldens:
        groot = case.golden_copy_to(base / "golden")
        out["plain"] = subprocess.run([sys.executable, case.entry, *case.args], cwd=groot, capture_output=True,
                                      text=True, timeout=300, stdin=subprocess.DEVNULL)
    return out


class Runs:
    """Cases started on a pool; `get` waits for one (and starts it if nobody had)."""

    def __init__(self, pool: ThreadPoolExecutor, factory: pytest.TempPathFactory) -> None:
        self.pool, self.factory, self.futures = pool, factory, {}

    def start(self, name: str) -> None:
        if name not in self.futures:
            self.futures[name] = self.pool.submit(_run_case, CASES[name], self.factory.mktemp(name))

    def get(self, name: str) -> dict[str, Any]:
        self.start(name)
        return self.futures[name].result()


@pytest.fixture(scope="session")
def corpus_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start every selected case at once; each test waits for its own."""
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    runs = Runs(pool, tmp_path_factory)
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("name") in CASES:
            runs.start(params["name"])
        elif item.name == "test_rollback_when_the_only_rewrite_changes_the_loss":
            runs.start(LOSS_CHANGING)
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
    elif verification["values_compared"]:
        assert verification["losses_equal"] is True and verification["same_leaves"] is True
        assert verification["grads_equal"] is True and verification["max_grad_diff"] <= 1e-6
    assert report["rounds"] and report["rounds"][-1]["status"] == "fixed"
    assert report["summary"].startswith("fixed ") and "backward passes" in report["summary"]
    assert all(p["fix"] for r in report["rounds"] for p in r["problems"])
    # a second --apply finds nothing and writes nothing
    second = run["second"]
    assert (_report(second)["status"], second.returncode) == ("clean", 0)
    assert run["after_second"] == run["after"]
    # the golden file, run plainly, prints the reference run's losses
    plain = run["plain"]
    assert plain.returncode == 0, plain.stderr[-2000:]
    reference = loss_lines(first.stderr)
    if verification["values_compared"]:
        assert reference, "the reference run printed no losses"
        compared = reference[:1] if changes_losses else reference  # later steps follow the new gradients
        assert loss_lines(plain.stdout)[:len(compared)] == compared
    else:  # the original raised before its first backward: nothing to compare, but the fix runs
        assert "values were not compared" in report["summary"]
        assert loss_lines(plain.stdout)


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


def test_rollback_when_the_only_rewrite_changes_the_loss(corpus_runs) -> None:
    run = _result(corpus_runs, LOSS_CHANGING)
    report = _report(run["first"])
    assert report["status"] == "not-verified" and run["first"].returncode == 1
    assert "loss differs" in report["why"]
    assert report["restored"], "the rewrite should have been written, then restored"
    assert run["after"] == run["before"]  # byte-identical, every file
    assert report["verification"]["losses_equal"] is False


def test_corpus_has_both_kinds() -> None:
    assert FIXABLE and UNFIXABLE and LOSS_CHANGING in UNFIXABLE
