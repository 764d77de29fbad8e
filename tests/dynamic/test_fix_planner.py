"""The planner with fake runtime reports: which rule, which node, or why none."""

from __future__ import annotations

from pathlib import Path

import pytest

from inplace_fix.fixer.model import Plan, PlannedFix, Unfixable
from inplace_fix.fixer.edits import targets
from inplace_fix.fixer.planner import plan_all
from inplace_fix.transforms.base import Position
from fix_fakes import fake_locate, parsed, parsed_report, problem

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
    return plan_all(parsed(*problems), project, None, locate=fake_locate)


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

    plan_all(parsed(problem(project / "net.py", 11, rule=None, kind="leaf-modified")), project, None, locate=locate)
    assert seen == ["IPF008"]


def test_optimizer_step_is_unfixable_and_names_the_backward_to_move(project: Path) -> None:
    train = project / "train.py"
    train.write_text("loss_d.backward(retain_graph=True)\nopt_d.step()\nloss_g.backward()\n")
    step = problem(train, 2, "IPF002", library_frames=[{"file": "/x/site-packages/torch/optim/adam.py", "line": 9}])
    step["modified_at"]["code"] = "opt_d.step()"
    report = parsed_report({"script_error": {"type": "RuntimeError", "message": "...",
                                             "traceback": f'  File "{train}", line 3, in <module>\n    loss_g.backward()\n'}})
    result = plan_all(parsed(step), project, report, locate=fake_locate)
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
    result = plan_all(parsed(problem(other / "layers.py", 11, "IPF001")), project, None, locate=fake_locate)
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


def test_a_data_write_the_forward_reads_again_is_made_visible(project: Path) -> None:
    from inplace_fix.transforms.api import locate, rewrite

    source = "import torch\n\ndef forward(fc1, fc2, x):\n    h = torch.sigmoid(fc1(x))\n    h.data.mul_(0.5)\n    return fc2(h)\n"
    (project / "g.py").write_text(source)
    silent = problem(project / "g.py", 5, "IPF005", kind="silent-data-mutation")
    silent["modified_at"].update(col=4, code="h.data.mul_(0.5)")
    (fix,) = plan_all(parsed(silent), project, None, locate=locate).fixes
    assert (fix.rule, fix.line, fix.col, fix.site) == ("IPF002", 5, 4, "modified_at")
    assert "visible to autograd" in fix.title
    assert rewrite(source, {"IPF002": [Position(5, 4)]}).source == source.replace("h.data.mul_(0.5)", "h = h.mul(0.5)")


def test_a_parameter_updated_through_data_between_backwards_needs_a_reordering(project: Path) -> None:
    update = problem(project / "net.py", 11, "IPF005", kind="silent-data-mutation", backward_call=2,
                     tensor={"name": "D.0.weight", "parameter": True})
    update["modified_at"]["code"] = "for p in D.parameters(): p.data.add_(-0.5 * p.grad)"
    result = _plan(project, update)
    assert result.fixes == ()
    why = result.unfixable[0].why
    assert "updates the parameter `D.0.weight`" in why and "before backward call #2" in why
    assert "move backward call #2 before the update" in why and "by hand" in why


def test_view_created_under_no_grad_needs_intent(project: Path) -> None:
    view = problem(project / "net.py", 11, "IPF001", kind="view-modified",
                   error="A view was created in no_grad mode and is being modified inplace with grad mode enabled.")
    result = _plan(project, view)
    assert result.fixes == ()
    assert "different gradients" in result.unfixable[0].why and "no_grad" in result.unfixable[0].why


# -- a module built from a config dict by a builder: the literal up the construction stack --

BUILDER = '''import torch.nn as nn

ACTS = {"ReLU": nn.ReLU, "GELU": nn.GELU}


def build_act(cfg):
    cfg = dict(cfg)
    cls = ACTS[cfg.pop("type")]
    return cls(**cfg)
'''


def _line(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def _frame(path: Path, needle: str) -> dict:
    line = _line(path, needle)
    code = path.read_text().splitlines()[line - 1]
    return {"file": str(path), "line": line, "col": len(code) - len(code.lstrip()), "code": code.strip()}


def _built(path: Path, *outer: tuple[Path, str], module: str = "ReLU") -> dict:
    """An IPF004 problem whose module was built by `build_act` in `path`, called from `outer` frames."""
    inner = _frame(path, "return cls(**cfg)")
    stack = [inner, *(_frame(file, needle) for file, needle in outer)]
    forward = next(file for file in (path, *(file for file, _ in outer)) if "return self.act" in file.read_text())
    return problem(forward, _line(forward, "return self.act"), "IPF004", construction_at=inner,
                   construction_stack=stack, module=module)


def _real_plan(root: Path, *problems):
    from inplace_fix.transforms.api import locate

    return plan_all(parsed(*problems), root, None, locate=locate)


def _rewritten(result) -> dict[str, str]:
    """The files as --apply would write them: the real IPF004 rewrite at the planned nodes."""
    from inplace_fix.transforms.api import rewrite

    return {path.name: rewrite(path.read_text(), per_rule).source for path, per_rule in targets(result.fixes).items()}


BLOCK = '''

class Block(nn.Module):
    def __init__(self, act_cfg=dict(type="ReLU", inplace=True)):
        super().__init__()
        self.act = build_act(act_cfg)

    def forward(self, x):
        return self.act(x)


net = Block()
'''


def test_config_literal_in_a_default_argument_is_rewritten(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + BLOCK)
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    assert result.unfixable == ()
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF004", _line(net, "def __init__"), "config_literal")
    assert 'def __init__(self, act_cfg=dict(type="ReLU")):' in _rewritten(result)["net.py"]


def test_config_literal_in_a_module_level_constant_is_rewritten(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + '\nCFG = dict(type="ReLU", inplace=True)\n'
                   + BLOCK.replace('act_cfg=dict(type="ReLU", inplace=True)', "act_cfg=CFG"))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    (fix,) = result.fixes
    assert fix.line == _line(net, "CFG = dict")
    assert 'CFG = dict(type="ReLU")\n' in _rewritten(result)["net.py"]


def test_literal_passed_by_the_caller_wins_over_the_unused_default(tmp_path: Path) -> None:
    layers, train = tmp_path / "layers.py", tmp_path / "train.py"
    layers.write_text(BUILDER + BLOCK.replace("net = Block()\n", ""))
    train.write_text('from layers import Block\n\nnet = Block(act_cfg=dict(type="ReLU", inplace=True))\n')
    result = _real_plan(tmp_path, _built(layers, (layers, "self.act = build_act"), (train, "net = Block(")))
    (fix,) = result.fixes
    assert (fix.file.name, fix.line) == ("train.py", 3)
    assert _rewritten(result) == {"train.py": 'from layers import Block\n\nnet = Block(act_cfg=dict(type="ReLU"))\n'}


def test_dict_display_config_is_rewritten(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + BLOCK.replace('dict(type="ReLU", inplace=True)', '{"type": "ReLU", "inplace": True}'))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    (fix,) = result.fixes
    assert fix.line == _line(net, "def __init__")
    assert 'def __init__(self, act_cfg={"type": "ReLU"}):' in _rewritten(result)["net.py"]


def test_literal_of_another_activation_type_is_never_taken(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + '\nGELU_CFG = dict(type="GELU", inplace=True)\nRELU_CFG = dict(type="ReLU", inplace=True)\n'
                   'PRESETS = [RELU_CFG, GELU_CFG]\n'
                   + BLOCK.replace('act_cfg=dict(type="ReLU", inplace=True)', "act_cfg=None")
                   .replace("build_act(act_cfg)", "build_act(act_cfg or PRESETS[0])"))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    (fix,) = result.fixes
    assert fix.line == _line(net, "RELU_CFG = dict")


def test_two_equally_likely_literals_are_left_to_the_user(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + '\nSMALL = dict(type="ReLU", inplace=True)\nLARGE = dict(type="ReLU", inplace=True)\n'
                   'PRESETS = [SMALL, LARGE]\n'
                   + BLOCK.replace('act_cfg=dict(type="ReLU", inplace=True)', "size=0")
                   .replace("build_act(act_cfg)", "build_act(PRESETS[size])"))
    before = net.read_text()
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    assert result.fixes == ()
    (item,) = result.unfixable
    small, large = _line(net, "SMALL = dict"), _line(net, "LARGE = dict")
    assert f"net.py:{small}" in item.why and f"net.py:{large}" in item.why
    assert "more than one literal" in item.why and "drop `inplace=True`" in item.why
    assert net.read_text() == before


def test_the_parameter_a_frame_passes_picks_among_several_defaults(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + BLOCK.replace(
        'act_cfg=dict(type="ReLU", inplace=True)',
        'norm_act_cfg=dict(type="ReLU", inplace=True), act_cfg=dict(type="ReLU", inplace=True)'))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    (fix,) = result.fixes
    assert 'norm_act_cfg=dict(type="ReLU", inplace=True), act_cfg=dict(type="ReLU")' in _rewritten(result)["net.py"]


def test_config_literal_outside_the_project_root_is_never_planned(tmp_path: Path) -> None:
    project, lib = tmp_path / "proj", tmp_path / "vendor"
    project.mkdir()
    lib.mkdir()
    (lib / "layers.py").write_text(BUILDER + BLOCK.replace("net = Block()\n", ""))
    net = project / "net.py"
    net.write_text(BUILDER)  # the builder was copied into the project; the config is not
    layers = lib / "layers.py"
    result = _real_plan(project, _built(net, (layers, "self.act = build_act")))
    assert result.fixes == ()
    (item,) = result.unfixable
    assert "outside the project root" in item.why and f":{_line(layers, 'def __init__')}" in item.why


def test_builder_with_no_literal_anywhere_keeps_the_usual_advice(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + BLOCK.replace('act_cfg=dict(type="ReLU", inplace=True)', "act_cfg=None"))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    assert result.fixes == ()
    assert "no IPF004 rewrite applies" in result.unfixable[0].why


def test_type_given_by_a_variable_is_not_taken_for_another_class(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + '\nACT_TYPE = "ReLU"\n'
                   + BLOCK.replace('dict(type="ReLU", inplace=True)', "dict(type=ACT_TYPE, inplace=True)"))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()")))
    (fix,) = result.fixes
    assert 'def __init__(self, act_cfg=dict(type=ACT_TYPE)):' in _rewritten(result)["net.py"]


# -- several candidate rewrites for one problem: the first is the plan, the others alternatives --

def test_further_candidates_are_kept_as_alternatives_in_order(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(BUILDER + "\n\ndef make(cfg=dict(type=\"ReLU\", inplace=True)):\n"
                   "    return nn.ReLU(inplace=True) if cfg else build_act(cfg)\n")
    built = _frame(net, "return nn.ReLU(inplace=True)")
    result = _real_plan(tmp_path, problem(net, built["line"], "IPF004", construction_at=built,
                                          construction_stack=[built], module="ReLU"))
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF004", built["line"], "construction_at")
    (other,) = result.alternatives
    assert (other.problem, other.rule, other.line, other.site) == (0, "IPF004", _line(net, "def make"), "config_literal")
    assert result.for_problem(0) == fix


def test_an_alias_search_that_finds_another_node_is_an_alternative(project: Path) -> None:
    (project / "a.py").write_text("h = f(x)\nact = h.data\nact.copy_(h.data)\n")
    silent = problem(project / "a.py", 3, "IPF005", kind="silent-data-mutation")
    silent["modified_at"]["code"] = "act.copy_(h.data)"
    result = _plan(project, silent, problem(project / "net.py", 11))
    assert [(f.problem, f.line, f.site) for f in result.fixes] == [(0, 3, "modified_at"), (1, 11, "modified_at")]
    assert [(f.problem, f.line, f.site) for f in result.alternatives] == [(0, 2, "alias_search")]


def test_a_registry_key_of_the_same_file_names_the_class_for_sure(tmp_path: Path) -> None:
    """`"lrelu"` is no torch.nn name, but the file's `ACTS` maps it to nn.LeakyReLU: that literal
    is the one, not the GELU one, nor the user class `Swish`'s (which alone would be a tie)."""
    net = tmp_path / "net.py"
    registry = ('class Swish(nn.Module):\n    def __init__(self, inplace=False):\n        super().__init__()\n\n\n'
                'ACTS = {"lrelu": nn.LeakyReLU, "gelu": nn.GELU, "swish": Swish}')
    net.write_text(BUILDER.replace('ACTS = {"ReLU": nn.ReLU, "GELU": nn.GELU}', registry)
                   + '\nGELU_CFG = dict(type="gelu", inplace=True)\nSWISH_CFG = dict(type="swish", inplace=True)\n'
                   'LRELU_CFG = dict(type="lrelu", inplace=True)\nPRESETS = [GELU_CFG, SWISH_CFG, LRELU_CFG]\n'
                   + BLOCK.replace('act_cfg=dict(type="ReLU", inplace=True)', "act_cfg=None")
                   .replace("build_act(act_cfg)", "build_act(act_cfg or PRESETS[2])"))
    result = _real_plan(tmp_path, _built(net, (net, "self.act = build_act"), (net, "net = Block()"),
                                         module="LeakyReLU"))
    assert result.unfixable == ()
    (fix,) = result.fixes
    assert (fix.line, fix.site) == (_line(net, "LRELU_CFG = dict"), "config_literal")
    rewritten = _rewritten(result)["net.py"]
    assert 'LRELU_CFG = dict(type="lrelu")\n' in rewritten
    assert 'GELU_CFG = dict(type="gelu", inplace=True)\n' in rewritten


# -- a module whose flag is a variable: the run proved it true, so the construction gets False --

def _variable_flag_problem(path: Path, needle: str) -> dict:
    built = _frame(path, needle)
    built["col"] = path.read_text().splitlines()[built["line"] - 1].index("nn.")
    return problem(path, _line(path, "return self.body"), "IPF004", construction_at=built,
                   construction_stack=[built], module=needle.split("(")[0].split(".")[-1])


VARIABLE_FLAG = '''import torch.nn as nn


class Head(nn.Module):
    def __init__(self, inplace=True):
        super().__init__()
        self.body = nn.Sequential(
            nn.Tanh(),
            nn.ReLU(inplace=inplace),
        )

    def forward(self, x):
        return self.body(x)
'''


def test_a_variable_flag_the_run_proved_true_becomes_false(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(VARIABLE_FLAG)
    result = _real_plan(tmp_path, _variable_flag_problem(net, "nn.ReLU(inplace=inplace)"))
    assert result.unfixable == ()
    (fix,) = result.fixes
    assert (fix.rule, fix.line, fix.site) == ("IPF004", _line(net, "nn.ReLU("), "construction_at")
    assert "inplace=False" in fix.title
    assert _rewritten(result) == {"net.py": VARIABLE_FLAG.replace("inplace=inplace)", "inplace=False)")}


def test_a_positional_variable_flag_becomes_false(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(VARIABLE_FLAG.replace("nn.ReLU(inplace=inplace)", "nn.LeakyReLU(0.2, inplace)"))
    result = _real_plan(tmp_path, _variable_flag_problem(net, "nn.LeakyReLU(0.2, inplace)"))
    (fix,) = result.fixes
    assert "nn.LeakyReLU(0.2, False)," in _rewritten(result)["net.py"]


def test_a_flag_computed_by_a_call_is_left_to_the_user(tmp_path: Path) -> None:
    """`inplace=use_inplace()` may have effects; the rewrite never drops a call."""
    net = tmp_path / "net.py"
    net.write_text(VARIABLE_FLAG.replace("inplace=inplace)", "inplace=use_inplace())"))
    result = _real_plan(tmp_path, _variable_flag_problem(net, "nn.ReLU(inplace=use_inplace())"))
    assert result.fixes == ()
    assert "no IPF004 rewrite applies" in result.unfixable[0].why


# -- cloning where the tensor is saved: an in-place op saved its result, the tensor it wrote --

INPLACE_RELU = '''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        first = self.relu(self.conv(x))
        out = first
        out[:, :, :2] = 0
        return out + first
'''


def test_an_inplace_op_that_saved_its_result_gets_the_clone_after_it(tmp_path: Path) -> None:
    """`nn.ReLU(inplace=True)` saved the tensor it wrote: a clone of its input would be written
    and saved in its stead, so the result is cloned and the program goes on with the copy."""
    net = tmp_path / "net.py"
    net.write_text(INPLACE_RELU)
    saving = _frame(net, "first = self.relu(self.conv(x))")
    saving["col"] = saving["code"].index("self.relu") + 8
    saving.update(end_line=saving["line"], end_col=saving["col"] + len("self.relu(self.conv(x))"), op="relu",
                  saved="output", saved_arg=None, saved_in_library=True)
    result = _real_plan(tmp_path, problem(net, _line(net, "out[:, :, :2] = 0"), "IPF006", saved_at=saving))
    (fix,) = result.fixes
    assert fix.rule == "IPF006"  # the write out of place comes first; the clone is the next candidate
    (clone,) = result.alternatives
    assert (clone.rule, clone.strategy, clone.line) == ("clone-saved", "clone-at-save", saving["line"])
    assert clone.title.startswith("clone the result of `self.relu(self.conv(x))`")
    rewritten = _rewritten(Plan((clone,), (), ()))["net.py"]
    assert rewritten == INPLACE_RELU.replace("first = self.relu(self.conv(x))\n",
                                             "first = self.relu(self.conv(x)).clone()\n")


def _ipf008_everywhere(source, code, line, col):
    return Position(line, 4) if code == "IPF008" else None


def _leaf_write(project: Path, value: dict | None) -> dict:
    return problem(project / "net.py", 11, "IPF008", kind="leaf-modified", saved_at=None, written_value=value)


def test_no_grad_is_not_offered_for_a_leaf_write_of_a_tracked_value(project: Path) -> None:
    tracked = {"requires_grad": True, "grad_fn": "MulBackward0"}
    result = plan_all(parsed(_leaf_write(project, tracked)), project, None, locate=_ipf008_everywhere)
    assert result.fixes == () and result.alternatives == ()
    (why,) = result.unfixable
    assert "differentiable update" in why.why and "MulBackward0" in why.why
    assert "functional_call" in why.why and "torch.stack" not in why.why


@pytest.mark.parametrize("value", [{"requires_grad": False, "grad_fn": None}, None])
def test_no_grad_is_offered_for_a_leaf_write_of_a_detached_value(project: Path, value) -> None:
    result = plan_all(parsed(_leaf_write(project, value)), project, None, locate=_ipf008_everywhere)
    assert result.unfixable == ()
    assert [fix.rule for fix in result.fixes] == ["IPF008"]
