"""`inplace_fix.api` called directly, as a notebook, a pytest plugin or another tool would."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from inplace_fix import api
from inplace_fix.report import Report

BLOCK = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            h = torch.sigmoid(self.fc(x))
            h += 1
            return h.sum()


    torch.manual_seed(0)
    net = Block()
    for _ in range(2):
        net(torch.randn(3, 4)).backward()
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "block.py").write_text(BLOCK)
    return tmp_path


def test_scan_returns_findings_and_prints_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = api.scan([str(project)], cwd=str(project))
    (finding,) = result.findings
    assert (finding.code, finding.line, finding.col) == ("IPF001", 12, 8)
    assert finding.path == "block.py" and result.errors == () and len(result.files) == 1
    assert capsys.readouterr() == ("", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.files = ()  # type: ignore[misc]


def test_scan_reports_what_it_could_not_read(project: Path) -> None:
    (project / "broken.py").write_text("def f(:\n")
    result = api.scan([str(project), str(project / "missing.py")], cwd=str(project))
    reasons = {e.path: e.reason for e in result.errors}
    assert "cannot parse" in reasons["broken.py"]
    assert any("missing.py" in path for path in reasons)
    assert [f.code for f in result.findings] == ["IPF001"]  # the rest is still scanned


def test_bad_options_raise_input_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.inplace-fix]\nselect = ['IPF999']\n")
    with pytest.raises(api.InputError, match="IPF999"):
        api.scan([str(project)], cwd=str(project))
    with pytest.raises(api.InputError, match="no such file"):
        api.diagnose(project / "nowhere.py", api.RunOptions(cwd=str(project)))


def test_migrate_dry_run_then_apply(project: Path) -> None:
    before = (project / "block.py").read_bytes()
    dry = api.migrate([str(project)], cwd=str(project))
    (changed,) = dry.changed
    assert "-        h += 1\n+        h = h + 1\n" in changed.diff
    assert dry.pending and (project / "block.py").read_bytes() == before
    done = api.migrate([str(project)], apply=True, cwd=str(project))
    assert done.applied and not done.pending and [r.display for r in done.changed] == ["block.py"]
    assert "        h = h + 1\n" in (project / "block.py").read_text()
    assert api.migrate([str(project)], cwd=str(project)).changed == ()


def test_diagnose_names_both_lines_and_proposes_the_fix(project: Path) -> None:
    before = (project / "block.py").read_bytes()
    diagnosis = api.diagnose("block.py", api.RunOptions(cwd=str(project), steps=2))
    assert diagnosis.status == "found" and (project / "block.py").read_bytes() == before
    (problem,) = diagnosis.problems
    assert (problem.kind, problem.saved_at.line, problem.modified_at.line) == ("saved-tensor-modified", 11, 12)
    assert problem.saved_at.file(str(project)) == "block.py" and problem.modified_at.op == "+="
    assert problem.fix is not None and problem.fix.rule == "IPF001"
    assert "+        h = h + 1\n" in problem.fix.diff
    document = diagnosis.to_json()
    assert document["status"] == "found" and document["verification"] is None
    again = Report.from_json(document, str(project))
    assert again.problems[0].fix == problem.fix and again.problems[0].sites == problem.sites


def test_fix_verifies_and_keeps_the_edit(project: Path) -> None:
    outcome = api.fix(api.Target(script="block.py"), api.FixOptions(cwd=str(project), steps=2))
    assert (outcome.status, outcome.exit_code, outcome.files) == ("fixed", 0, ("block.py",))
    assert outcome.verification["grads_equal"] is True and outcome.verdict.verified
    assert "        h = h + 1\n" in (project / "block.py").read_text()
    document = outcome.to_json()
    assert document["status"] == "fixed" and [r["round"] for r in document["rounds"]] == [1]
    assert document["problems"][0]["fix"]["file"] == "block.py"


def test_fix_rolls_back_what_it_cannot_prove(project: Path) -> None:
    script = project / "step.py"
    script.write_text(textwrap.dedent("""\
        import torch
        w = torch.nn.Parameter(torch.randn(3))
        opt = torch.optim.SGD([w], lr=0.1)
        loss_a = (w.sigmoid() * 2).sum()
        loss_b = (w * w).sum()
        loss_a.backward(retain_graph=True)
        opt.step()
        loss_b.backward()
    """))
    before = script.read_bytes()
    outcome = api.fix("step.py", api.FixOptions(cwd=str(project)))
    assert outcome.status == "unfixable" and outcome.exit_code == 1
    assert "optimizer" in outcome.problems[0].why_unfixable and script.read_bytes() == before
