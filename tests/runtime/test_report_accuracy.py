"""Reports a user can trust to the letter: the tensor's name, one problem per (write, save) pair,
every write that moved the version, and a suggested `--apply` command that runs the same thing.

Few processes: one runtime run holds every naming and pairing case (one graph, one backward,
all its problems reported), one CLI dry run shows the text, one `--apply` run the joined block.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from diagnose_helpers import run_cli
from runtime_helpers import launch, line_of, write

GROUPED = """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    w = torch.randn(4, requires_grad=True)
    fc = torch.nn.Linear(4, 4)
    h1 = torch.tanh(w * 1.0)
    y = h1.add_(1)
    h2 = torch.tanh(w * 2.0)
    out = F.relu(h2, inplace=True)
    a = torch.tanh(w); h3 = torch.sigmoid(w * 3.0)
    torch.relu_(h3)
    h4 = torch.sin(w * 4.0)
    loss4 = (h4 * w).sum() + h4.mul_(3).sum()
    h5 = torch.exp(w * 5.0)
    h5.data[0] = 0.0
    h6 = torch.exp(w * 6.0)
    h6 += 1
    h7 = torch.sin(w * 7.0)
    both = h7 * w + h7.sin()
    h7.add_(1)
    h8 = torch.sin(w * 8.0)
    first = h8 * w
    second = h8.cos()
    h8.add_(1)
    h9 = torch.sin(w * 9.0)
    kept = h9 * w
    h9.add_(1)
    h9.mul_(2)
    h9.mul_(2)
    z = fc(w)
    with torch.no_grad():
        fc.weight.mul_(0.5)
    total = (y.sum() + out.sum() + a.sum() + h3.sum() + loss4 + h5.sum() + h6.sum() + both.sum()
             + first.sum() + second.sum() + kept.sum() + z.sum())
    total.backward()
"""


def _by_write(rep: dict, script: Path, needle: str) -> list[dict]:
    line = line_of(script, needle)
    return [p for p in rep["problems"] if (p["modified_at"] or {}).get("line") == line]


def test_names_pairs_and_other_writes(tmp_path: Path) -> None:
    s = write(tmp_path, "grouped.py", GROUPED)
    rep, proc = launch(s)
    assert rep["status"] == "found", proc.stderr
    names = {needle: [p["tensor"]["name"] for p in _by_write(rep, s, needle)]
             for needle in ("y = h1.add_(1)", "out = F.relu(h2", "torch.relu_(h3)", "h4.mul_(3)",
                            "h5.data[0]", "h6 += 1", "fc.weight.mul_(0.5)")}
    # the variable written, not the assignment's target, the loss, or a neighbour on the saving line
    assert names == {"y = h1.add_(1)": ["h1"], "out = F.relu(h2": ["h2"], "torch.relu_(h3)": ["h3"],
                     "h4.mul_(3)": ["h4"], "h5.data[0]": ["h5"], "h6 += 1": ["h6"],
                     "fc.weight.mul_(0.5)": ["weight"]}, names  # a saved parameter keeps its own name
    assert [p["kind"] for p in _by_write(rep, s, "h5.data[0]")] == ["silent-data-mutation"]

    # one write, one saving line with two ops that saved `h7`: one problem
    h7 = _by_write(rep, s, "h7.add_(1)")
    assert [p["saved_at"]["line"] for p in h7] == [line_of(s, "both = h7 * w")]
    # one write, two saving lines: two pairs, each once
    h8 = _by_write(rep, s, "h8.add_(1)")
    assert sorted(p["saved_at"]["line"] for p in h8) == [line_of(s, "first = h8 * w"),
                                                          line_of(s, "second = h8.cos()")]
    assert len({p["saved_at"]["line"] for p in rep["problems"]}) == len(rep["problems"])

    # three writes between save and use: the first is modified_at, the others are listed once per line
    (h9,) = _by_write(rep, s, "h9.add_(1)")
    assert h9["tensor"]["version_now"] - h9["tensor"]["version_saved"] == 3
    assert [(x["line"], x["op"], x["code"]) for x in h9["also_modified_at"]] == [
        (line_of(s, "h9.mul_(2)", 1), "mul_", "h9.mul_(2)"), (line_of(s, "h9.mul_(2)", 2), "mul_", "h9.mul_(2)")]
    assert all(p["also_modified_at"] == [] for p in rep["problems"] if p is not h9)


DRY = """
    import sys
    import torch

    assert sys.argv[1:] == ["--epochs", "1", "--name", "my run"], sys.argv
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    h = torch.sin(w * 2)
    g = h * w + h.sin()
    h.add_(1)
    h.mul_(2)
    g.sum().backward()
"""


def test_dry_run_text_and_json(tmp_path: Path) -> None:
    write(tmp_path, "train.py", DRY)
    args = ("train.py", "--steps", "5", "--timeout", "60", "--", "--epochs", "1", "--name", "my run")
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert "1 in-place problem found" in text, text  # one pair, though mul and sin both saved `h`
    assert "`h` (float32 [3] on cpu)" in text
    assert f"also modified at train.py:{line_of(tmp_path / 'train.py', 'h.mul_(2)')} `h.mul_(2)`" in text
    suggested = "inplace-fix train.py --steps 5 --timeout 60 --apply -- --epochs 1 --name 'my run'"
    assert f"`{suggested}`" in text, text
    assert shlex.split(suggested)[1:] == [*args[:5], "--apply", *args[5:]]

    proc = run_cli(*args[:5], "--json", *args[5:], cwd=tmp_path)
    (problem,) = json.loads(proc.stdout)["problems"]
    assert problem["tensor"]["name"] == "h"
    assert [(x["file"], x["code"]) for x in problem["also_modified_at"]] == [("train.py", "h.mul_(2)")]
    for key in ("kind", "error", "tensor", "saved_at", "modified_at", "fix", "why_unfixable"):
        assert key in problem


LEAF_INIT = """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(3, 3))
            self.b = nn.Parameter(torch.empty(3))
            self.w.normal_(0, 0.01)
            self.b.zero_()
            self.scale = 2.0

        def forward(self, x):
            return (x @ self.w + self.b) * self.scale


    torch.manual_seed(0)
    net = Net()
    for _ in range(2):
        net(torch.randn(2, 3)).sum().backward()
"""


def test_adjacent_leaf_updates_get_one_block_in_one_round(tmp_path: Path) -> None:
    script = write(tmp_path, "init.py", LEAF_INIT)
    # the dry run finds the first leaf error only (it raises); its fix already holds both lines
    dry = json.loads(run_cli("init.py", "--json", cwd=tmp_path).stdout)
    (problem,) = dry["problems"]
    assert problem["tensor"]["name"] == "self.w"
    assert ("+        with torch.no_grad():\n+            self.w.normal_(0, 0.01)\n+            self.b.zero_()\n"
            "         self.scale = 2.0\n") in problem["fix"]["diff"], problem["fix"]["diff"]
    proc = run_cli("init.py", "--apply", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["status"] == "fixed", outcome
    assert len(outcome["rounds"]) == 1 or outcome["rounds"][1]["problems"] == [], outcome["rounds"]
    body = script.read_text(encoding="utf-8")
    assert body.count("with torch.no_grad():") == 1, body
    assert ("        with torch.no_grad():\n            self.w.normal_(0, 0.01)\n            self.b.zero_()\n"
            "        self.scale = 2.0\n") in body, body


def test_apply_command_without_a_command_line() -> None:
    """An API caller's diagnosis (no click context): the request's non-default options, quoted."""
    from inplace_fix.render.diagnosis import apply_command
    from inplace_fix.request import Request

    request = Request(script="train.py", steps=5, timeout=0.5, anomaly=True, args=("--lr", "0.1", "a b"))
    assert apply_command(request) == ("inplace-fix train.py --steps 5 --timeout 0.5 --anomaly --apply "
                                      "-- --lr 0.1 'a b'")
    assert apply_command(Request(module="pkg.train")) == "inplace-fix run -m pkg.train --apply"
