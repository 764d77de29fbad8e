"""The planner with fake runtime reports: which rule, which node, or why none."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.fixer.model import PlannedFix, Unfixable
from codemod.fixer.planner import plan_all, targets
from transforms.base import Position
from fix_fakes import fake_locate, problem

SOURCE = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.fc(x)
        x += self.lateral(x)
        return self.act(x)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "net.py").write_text(SOURCE)
    return tmp_path


def _plan(project: Path, *problems):
    return plan_all(list(problems), project, {}, locate=fake_locate)


def test_augmented_assignment_is_rewritten_where_it_ran(project: Path) -> None:
    result = _plan(project, problem(project / "net.py", 11, "IPF001"))
    assert result.unfixable == ()
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.col, fix.site) == ("IPF001", 11, 8, "modified_at")
    assert fix.file == (project / "net.py").resolve()


def test_inplace_module_is_fixed_at_its_construction(project: Path) -> None:
    built = {"file": str(project / "net.py"), "line": 7, "col": 19, "code": "nn.ReLU(inplace=True)"}
    result = _plan(project, problem(project / "net.py", 12, "IPF004", construction_at=built))
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF004", 7, "construction_at")


def test_functional_inplace_without_construction_uses_the_call(project: Path) -> None:
    (project / "f.py").write_text("import torch.nn.functional as F\nx = F.relu(x, inplace=True)\n")
    result = _plan(project, problem(project / "f.py", 2, "IPF004"))
    (fix,) = result.fixes
    assert (fix.line, fix.site) == (2, "modified_at")


def test_data_alias_is_fixed_where_the_alias_was_created(project: Path) -> None:
    (project / "d.py").write_text("h = f(x)\nd = h.data\nd.mul_(0.5)\n")
    alias = {"file": str(project / "d.py"), "line": 2, "col": 4, "code": "d = h.data"}
    result = _plan(project, problem(project / "d.py", 3, "IPF005", kind="silent-data-mutation", alias_at=alias))
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF005", 2, "alias_at")


def test_leaf_kind_without_rule_means_ipf008(project: Path) -> None:
    seen = []

    def locate(source, code, line, col):
        seen.append(code)
        return None

    plan_all([problem(project / "net.py", 11, rule=None, kind="leaf-modified")], project, {}, locate=locate)
    assert seen == ["IPF008"]


def test_optimizer_step_is_unfixable_and_names_the_backward_to_move(project: Path) -> None:
    train = project / "train.py"
    train.write_text("loss_d.backward(retain_graph=True)\nopt_d.step()\nloss_g.backward()\n")
    step = problem(train, 2, "IPF002", library_frames=[{"file": "/x/site-packages/torch/optim/adam.py", "line": 9}])
    step["modified_at"]["code"] = "opt_d.step()"
    report = {"script_error": {"type": "RuntimeError", "message": "...",
                               "traceback": f'  File "{train}", line 3, in <module>\n    loss_g.backward()\n'}}
    result = plan_all([step], project, report, locate=fake_locate)
    assert result.fixes == ()
    (item,) = result.unfixable
    assert isinstance(item, Unfixable)
    assert "opt_d.step()" in item.why and f"{train}:3" in item.why and "loss_g.backward()" in item.why
    assert "retain_graph=True" in item.why and "recompute" in item.why


def test_files_outside_the_project_are_never_planned(tmp_path: Path) -> None:
    project, other = tmp_path / "proj", tmp_path / "lib" / "site-packages" / "pkg"
    project.mkdir()
    other.mkdir(parents=True)
    (other / "layers.py").write_text(SOURCE)
    result = plan_all([problem(other / "layers.py", 11, "IPF001")], project, {}, locate=fake_locate)
    assert result.fixes == ()
    assert "outside the project root" in result.unfixable[0].why
    assert "x = x + y" in result.unfixable[0].why


def test_a_site_the_rule_cannot_rewrite_is_unfixable(project: Path) -> None:
    result = _plan(project, problem(project / "net.py", 10, "IPF001"))
    assert result.fixes == () and "no IPF001 rewrite applies" in result.unfixable[0].why


def test_two_problems_on_one_node_share_one_rewrite(project: Path) -> None:
    result = _plan(project, problem(project / "net.py", 11), problem(project / "net.py", 11))
    assert [f.problem for f in result.fixes] == [0, 1]
    per_file = targets(result.fixes)
    assert list(per_file.values()) == [{"IPF001": [Position(11, 8)]}]


def test_plans_are_frozen(project: Path) -> None:
    (fix,) = _plan(project, problem(project / "net.py", 11)).fixes
    with pytest.raises(AttributeError):
        fix.line = 3  # type: ignore[misc]
    assert isinstance(fix, PlannedFix)


def test_write_through_a_data_alias_is_traced_back_to_the_alias(project: Path) -> None:
    (project / "m.py").write_text("def forward(self, x):\n    h = self.fc1(x)\n    act = h.data\n"
                                  "    out = self.fc2(h)\n    act.clamp_(max=0.9)\n    return out\n")
    silent = problem(project / "m.py", 5, "IPF005", kind="silent-data-mutation")
    silent["modified_at"]["code"] = "act.clamp_(max=0.9)"
    (fix,) = _plan(project, silent).fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF005", 3, "alias_search")


def test_view_created_under_no_grad_needs_intent(project: Path) -> None:
    view = problem(project / "net.py", 11, "IPF001", kind="view-modified",
                   error="A view was created in no_grad mode and is being modified inplace with grad mode enabled.")
    result = _plan(project, view)
    assert result.fixes == ()
    assert "different gradients" in result.unfixable[0].why and "no_grad" in result.unfixable[0].why
