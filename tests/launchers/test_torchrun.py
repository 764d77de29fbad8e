"""`inplace-fix run -m torch.distributed.run` and `inplace-fix torchrun`: every rank diagnosed, one report.

Two gloo workers on the CPU (torchrun --standalone picks a free port) run a small DDP
script with the classic bug (`h = sigmoid(...)`, then `h += 1`): both ranks hit it, the
report shows it once with its ranks, and --apply verifies its fix with the same launcher.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from inplace_fix.console import Console
from inplace_fix.diagnosis import from_report
from inplace_fix.render.diagnosis import render_diagnosis
from inplace_fix.request import Request
from inplace_fix.runtime import ranks

DDP_SCRIPT = """\
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
torch.manual_seed(0)
model = DDP(torch.nn.Linear(4, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(3):
    x = torch.randn(8, 4)
    h = torch.sigmoid(model(x))
    h += 1
    loss = h.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
dist.destroy_process_group()
"""

TORCHRUN_ARGS = ["--standalone", "--nproc_per_node", "2", "train.py"]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inplace_fix", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240, stdin=subprocess.DEVNULL)


def test_every_rank_is_diagnosed_and_one_problem_lists_both(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(DDP_SCRIPT)
    result = _cli(tmp_path, "run", "-m", "torch.distributed.run", "--json", "--", *TORCHRUN_ARGS)
    assert result.returncode == 1, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["status"] == "found" and report["ranks"] == [0, 1]
    [problem] = report["problems"]
    assert problem["ranks"] == [0, 1]
    assert (problem["modified_at"]["file"], problem["modified_at"]["line"]) == ("train.py", 12)
    assert (problem["saved_at"]["file"], problem["saved_at"]["line"]) == ("train.py", 11)
    assert problem["fix"]["rule"] == "IPF001"
    assert "failed for another reason" not in result.stderr


def test_apply_through_torchrun_verifies_in_every_rank(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    result = _cli(tmp_path, "torchrun", "--apply", "--json", "--", *TORCHRUN_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "fixed"
    verification = outcome["verification"]
    assert verification["grads_equal"] and sorted(verification["by_rank"]) == ["0", "1"]
    assert "    h = h + 1\n" in script.read_text() and "h += 1" not in script.read_text()


def _rank_report(problems: list[dict], verification: dict | None = None, error: dict | None = None) -> dict:
    return {"tool": "inplace-fix", "version": "0.1.0", "script": "train.py", "status": "found" if problems else "clean",
            "problems": problems, "backward_calls": 1, "stopped_by": None, "script_error": error,
            "verification": verification}


def _problem(line: int) -> dict:
    return {"kind": "saved-tensor-modified", "rule": "IPF001", "error": "boom",
            "saved_at": {"file": "/p/train.py", "line": 11, "col": 8, "code": "h = torch.sigmoid(x)"},
            "modified_at": {"file": "/p/train.py", "line": line, "col": 4, "code": "h += 1"}}


def test_merge_keeps_distinct_problems_apart_and_fails_a_rank_that_fails() -> None:
    passed = {"backward_ok": True, "losses_equal": True, "grads_equal": True, "max_grad_diff": 0.0}
    failed = {"backward_ok": True, "losses_equal": True, "grads_equal": False, "max_grad_diff": 0.5}
    merged = ranks.merge([(0, _rank_report([_problem(12)], passed)), (1, _rank_report([_problem(12), _problem(14)],
                                                                                      failed))], "-m x", {})
    assert [(p["modified_at"]["line"], p["ranks"]) for p in merged["problems"]] == [(12, [0, 1]), (14, [1])]
    assert merged["verification"]["grads_equal"] is False and merged["verification"]["max_grad_diff"] == 0.5
    # a rank that wrote no verification (it died) cannot pass the run
    lone = ranks.merge([(0, _rank_report([], passed)), (1, _rank_report([]))], "-m x", {})
    assert lone["status"] == "clean" and lone["verification"]["grads_equal"] is False


def test_merge_names_the_rank_of_a_script_error() -> None:
    error = {"type": "ValueError", "message": "bad batch", "traceback": "Traceback ...\nValueError: bad batch\n"}
    merged = ranks.merge([(0, _rank_report([])), (1, _rank_report([], error=error))], "-m x", {})
    assert merged["status"] == "script-error" and merged["script_error"]["rank"] == 1


def test_text_report_lists_the_ranks_once(tmp_path: Path) -> None:
    merged = ranks.merge([(0, _rank_report([_problem(12)])), (1, _rank_report([_problem(12)]))], "-m x", {})
    diagnosis = from_report(merged, Request(module="torch.distributed.run", cwd=str(tmp_path)))
    text = render_diagnosis(diagnosis, Console(color=False))
    assert "in ranks 0, 1" in text and text.count("problem:") == 1
