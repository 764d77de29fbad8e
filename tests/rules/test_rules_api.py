"""analyze / rewrite / locate edge cases: positions, bytes, comments, several rules at once."""

from __future__ import annotations

import subprocess
import sys

import libcst
import pytest

from inplace_fix.transforms.api import analyze, locate, rewrite
from inplace_fix.transforms.base import Confidence, FixSafety, Position
from inplace_fix.transforms.registry import ALL_RULES, get_rule

SRC = (
    "import torch\n"
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "\n"
    "class Net(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.act = nn.ReLU(inplace=True)\n"
    "\n"
    "    def forward(self, x):\n"
    "        h = torch.sigmoid(self.fc(x))\n"
    "        h[:, 0] = 0\n"
    "        h += x  # residual\n"
    "        h.clamp_(0, 1)\n"
    "        return F.relu(h, inplace=True)\n"
)


def _plan(findings):
    plan: dict[str, list[Position]] = {}
    for f in findings:
        if f.fixable:
            plan.setdefault(f.code, []).append(f.position)
    return plan


def test_analyze_sorted_and_selectable() -> None:
    findings = analyze(SRC, path="net.py")
    keys = [(f.line, f.col, f.code) for f in findings]
    assert keys == sorted(keys)
    assert {f.code for f in findings} == {"IPF001", "IPF002", "IPF004", "IPF006"}
    assert all(f.path == "net.py" for f in findings)
    only = analyze(SRC, select=["ipf004"])
    assert {f.code for f in only} == {"IPF004"} and len(only) == 2


def test_all_rules_in_one_pass_positions_refer_to_original() -> None:
    findings = analyze(SRC)
    result = rewrite(SRC, _plan(findings))
    assert result.source == (
        "import torch\n"
        "import torch.nn as nn\n"
        "import torch.nn.functional as F\n"
        "\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.act = nn.ReLU()\n"
        "\n"
        "    def forward(self, x):\n"
        "        h = torch.sigmoid(self.fc(x))\n"
        "        h = h.clone()\n"
        "        h[:, 0] = 0\n"
        "        h = h + x  # residual\n"
        "        h = h.clamp(0, 1)\n"
        "        return F.relu(h)\n"
    )
    assert len(result.applied) == len(findings)
    assert {c for c, _ in result.applied_by_rule} == {"IPF001", "IPF002", "IPF004", "IPF006"}
    assert not [f for f in analyze(result.source) if f.fixable]


def test_crlf_kept() -> None:
    src = SRC.replace("\n", "\r\n")
    result = rewrite(src, _plan(analyze(src)))
    assert result.source == rewrite(SRC, _plan(analyze(SRC))).source.replace("\n", "\r\n")


def test_non_ascii_before_the_site_on_the_same_line() -> None:
    src = "import torch\n\ndef f(a, b):\n    x = torch.relu(a)\n    s = 'héllo→'; x += b\n    return x, s\n"
    (finding,) = analyze(src)
    assert finding.code == "IPF001"
    assert finding.position == Position(5, 18)  # characters, not UTF-8 bytes (which would be 21)
    result = rewrite(src, {"IPF001": [finding.position]})
    assert result.source == src.replace("x += b", "x = x + b")
    assert locate(src, "IPF001", 5, 18) == finding.position


def test_comments_and_odd_indentation_kept_when_wrapping() -> None:
    src = ("import torch\n\ndef f():\n   w = torch.ones(2, requires_grad=True)\n"
           "   # the update\n   w -= 0.1  # step\n   return w\n")
    (finding,) = [f for f in analyze(src) if f.code == "IPF008"]
    out = rewrite(src, {"IPF008": [finding.position]}).source
    assert out == ("import torch\n\ndef f():\n   w = torch.ones(2, requires_grad=True)\n"
                   "   # the update\n   with torch.no_grad():\n      w -= 0.1  # step\n   return w\n")


def test_tab_indentation() -> None:
    src = "import torch\n\ndef f(a, b):\n\tx = torch.relu(a)\n\tx *= b\n\treturn x\n"
    out = rewrite(src, _plan(analyze(src))).source
    assert out == "import torch\n\ndef f(a, b):\n\tx = torch.relu(a)\n\tx = x * b\n\treturn x\n"


def test_untargeted_code_is_byte_identical() -> None:
    src = "import torch\n\n\ndef f(a,b ):   # odd\n    x=torch.relu(a)\n    x+=b\n    y  =  (  b  )\n    return x,y\n"
    out = rewrite(src, _plan(analyze(src))).source
    assert out == src.replace("x+=b", "x=x + b")


def test_position_without_a_node_changes_nothing() -> None:
    result = rewrite(SRC, {"IPF001": [Position(1, 0)], "IPF004": []})
    assert result.source == SRC and result.applied == ()
    assert rewrite(SRC, {}).source == SRC


def test_syntax_errors_raise() -> None:
    with pytest.raises(SyntaxError):
        analyze("def f(:\n")
    with pytest.raises(libcst.ParserSyntaxError):
        rewrite("def f(:\n", {"IPF001": [Position(1, 0)]})


def test_unknown_code() -> None:
    with pytest.raises(KeyError):
        get_rule("IPF999")
    assert get_rule("ipf003").code == "IPF003"


def test_findings_carry_confidence_safety_and_notes() -> None:
    src = "import torch\n\ndef f(a, b):\n    x = torch.relu(a)\n    x += b\n    return x\n"
    (f,) = analyze(src)
    assert f.confidence is Confidence.HIGH and f.safety is FixSafety.SAFE and "torch.relu" in f.note
    src2 = "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        x += 1\n        return x\n"
    (g,) = analyze(src2)
    assert g.confidence is Confidence.MEDIUM and g.safety is FixSafety.UNSAFE and "forward" in g.note


def test_locate_ignores_evidence_and_context() -> None:
    src = "def f(x, y):\n    x += y\n    with torch.no_grad():\n        y.add_(1)\n"
    assert analyze(src) == []
    assert locate(src, "IPF001", 2, 4) == Position(2, 4)
    assert locate(src, "IPF001", 2, None) == Position(2, 4)
    assert locate(src, "IPF002", 4, 8) == Position(4, 8)
    assert locate(src, "IPF002", 2, 4) is None


def test_locate_picks_the_innermost_node_containing_the_column() -> None:
    src = "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True), nn.Dropout(0.1, True))\n"
    assert locate(src, "IPF004", 2, 37) == Position(2, 37)
    assert locate(src, "IPF004", 2, 66) == Position(2, 60)
    # a statement-start column: nearest site after it
    assert locate(src, "IPF004", 2, 0) == Position(2, 37)


def test_locate_multiline_call_and_expression_form() -> None:
    src = ("import torch.nn as nn\nnet = nn.Sequential(\n    nn.Linear(2, 2),\n    nn.ReLU(\n        inplace=True),\n)\n"
           "def g(x):\n    y = x.relu_()\n    return y\n")
    assert locate(src, "IPF004", 4, 4) == Position(4, 4)
    assert locate(src, "IPF004", 5, 8) == Position(4, 4)  # the runtime may report a continuation line
    pos = locate(src, "IPF002", 8, 4)
    assert pos == Position(8, 8)
    out = rewrite(src, {"IPF002": [pos]}).source
    assert "    x = y = x.relu()\n" in out


def test_rules_never_import_torch() -> None:
    code = ("import sys, inplace_fix.transforms.api as a; a.analyze(open(sys.argv[1]).read()); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    path = sys.modules[__name__].__file__
    subprocess.run([sys.executable, "-c", code, path], check=True)


def test_every_rule_is_registered_once() -> None:
    assert [r.code for r in ALL_RULES] == sorted({r.code for r in ALL_RULES})
    assert get_rule("IPF005").bulk_default is False


def test_inplace_tables_match_installed_torch() -> None:
    pytest.importorskip("torch")
    from pathlib import Path

    from inplace_fix.transforms.data import generate_inplace_tables as gen

    current = Path(gen.__file__).with_name("inplace_tables.py").read_text(encoding="utf-8")
    assert gen.render() == current, "run `python -m inplace_fix.transforms.data.generate_inplace_tables`"
    from inplace_fix.transforms.data.inplace_tables import INPLACE_FLAG_FUNCTIONALS, INPLACE_FLAG_MODULES, TENSOR_METHOD_TWINS

    assert TENSOR_METHOD_TWINS["add_"] == "add" and "zero_" not in TENSOR_METHOD_TWINS
    assert INPLACE_FLAG_MODULES["ReLU"] == 0 and INPLACE_FLAG_FUNCTIONALS["dropout"] == 3


def test_only_chunks_with_targets_change_and_decorators_stay_attached() -> None:
    src = ("import torch\n\n\n@torch.no_grad()\ndef ema(a, b):\n    a.mul_(0.9).add_(b)\n\n\n"
           "# keep me\nw = torch.randn(3, requires_grad=True)\n\n\ndef g(a, b):\n    x = torch.relu(a)\n"
           "    x += b\n    return x\n\nw -= 0.1 * w.grad")  # no trailing newline
    result = rewrite(src, _plan(analyze(src)))
    assert result.source == src.replace("    x += b\n", "    x = x + b\n").replace(
        "w -= 0.1 * w.grad", "with torch.no_grad():\n    w -= 0.1 * w.grad")
    assert [c for c, _ in result.applied_by_rule] == ["IPF001", "IPF008"]


def test_form_feed_and_backslash_continuation() -> None:
    src = "import torch\n\x0c\ndef f(a, b):\n    x = torch.relu(a)\n    x += \\\n        b\n    return x\n"
    (finding,) = analyze(src)
    out = rewrite(src, {"IPF001": [finding.position]}).source
    assert out == src.replace("x += \\\n        b", "x = \\\n        x + b")
    compile(out, "<t>", "exec")


def test_module_paths_set_the_context() -> None:
    src = "import torch\n\ndef update(p, g):\n    d = torch.relu(g)\n    d.mul_(0.9)\n    return d\n"
    (f,) = analyze(src, path="models/net.py")
    assert f.confidence is Confidence.HIGH
    assert analyze(src, path="pkg/optim/adamw.py") == []  # optimizer module
    (low,) = analyze(src, path="pkg/data/transforms.py")  # data pipeline: kept, low confidence
    assert low.confidence is Confidence.LOW and "data-pipeline" in low.note
    assert analyze(src, path="pkg/layers/weight_init.py") == []  # init helpers


def test_ignore_comments_are_not_applied_here_but_kept_by_rewrites() -> None:
    src = "import torch\n\ndef f(a, b):\n    x = torch.relu(a)\n    x += b  # inplace-fix: ignore[IPF001]\n    return x\n"
    (f,) = analyze(src)  # suppression is the engine's job
    out = rewrite(src, {"IPF001": [f.position]}).source
    assert "x = x + b  # inplace-fix: ignore[IPF001]\n" in out


def test_locate_data_alias_written_on_a_later_line() -> None:
    src = ("import torch\n\ndef f(x):\n    h = torch.tanh(x)\n    act = h.data\n    act.clamp_(max=0.9)\n"
           "    act[0] = 1\n    return h\n")
    assert locate(src, "IPF005", 6, 4) == Position(5, 10)
    assert locate(src, "IPF005", 7, 4) == Position(5, 10)
    assert locate(src, "IPF005", 8, 4) is None
    out = rewrite(src, {"IPF005": [Position(5, 10)]}).source
    assert "    act = h.detach()\n" in out


def test_module_level_wrap_uses_the_files_indentation() -> None:
    src = "import torch\n\ndef f(a):\n  return a\n\nw = torch.ones(2, requires_grad=True)\nw.zero_()\n"
    (f,) = [x for x in analyze(src) if x.code == "IPF008"]
    out = rewrite(src, {"IPF008": [f.position]}).source
    assert out.endswith("w = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n  w.zero_()\n")


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "<<", ">>"])
def test_augmented_rewrite_keeps_the_operands_grouping(op: str) -> None:
    import ast

    for value in ("not m", "-b", "b if c else a", "b < a", "a and b", "b @ a", "b ** 2", "(b + a)",
                  "b | a", "b - a", "b * a", "b << a", "lambda: b"):
        src = f"import torch\n\ndef f(a, b, c, m):\n    x = torch.relu(a)\n    x {op}= {value}\n    return x\n"
        (finding,) = [f for f in analyze(src) if f.code == "IPF001"]
        line = rewrite(src, {"IPF001": [finding.position]}).source.splitlines()[4].strip()
        assert ast.dump(ast.parse(line)) == ast.dump(ast.parse(f"x = x {op} ({value})")), line


def test_analyze_does_not_import_libcst():
    # `scan` pays for libcst only when it rewrites: detection must not import it
    code = ("import sys, inplace_fix.transforms.api\n"
            "inplace_fix.transforms.api.analyze('import torch\\nx = torch.relu(a)\\nx += 1\\nx[0] = 1\\n')\n"
            "assert 'libcst' not in sys.modules, sorted(m for m in sys.modules if 'libcst' in m)\n"
            "out = inplace_fix.transforms.api.rewrite('import torch\\ndef f(a):\\n    x = torch.relu(a)\\n    x += 1\\n',"
            " {'IPF001': [(4, 4)]})\n"
            "assert 'libcst' in sys.modules and out.changed\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- what the runtime fixer reads from the rules: titles, hand fixes, kinds, where a rewrite goes --

def test_every_rule_has_a_title_and_a_hand_fix() -> None:
    for rule in ALL_RULES:
        assert isinstance(rule.title, str) and rule.title.strip(), rule.code
        assert isinstance(rule.hand_fix, str) and rule.hand_fix.strip(), rule.code
        assert all(isinstance(kind, str) and kind for kind in rule.runtime_kinds), rule.code


def test_a_problem_kind_without_a_rule_names_its_rule() -> None:
    from inplace_fix.transforms.registry import rule_for_kind

    assert rule_for_kind("leaf-modified").code == "IPF008"
    assert rule_for_kind("silent-data-mutation").code == "IPF005"
    assert rule_for_kind("saved-tensor-modified") is None


WRITE, BUILT, ALIAS, DATA = "x.clamp_(0, 1)", "self.act = nn.ReLU(inplace=True)", "d = h.data", "h.data"
VISIBLE = "make the `.data` write visible to autograd: rebind the name to the out-of-place result"


@pytest.mark.parametrize("code, sites, expected", [
    # the default: the rewrite goes where the tensor was modified
    ("IPF001", {"modified_at": "x += 1"}, ("IPF001", "modified_at")),
    ("IPF001", {"modified_at": "x += 1", "construction_at": BUILT}, ("IPF001", "modified_at")),
    # IPF004 -> construction_at when the runtime names it, else the call that ran
    ("IPF004", {"modified_at": "return self.act(x)", "construction_at": BUILT}, ("IPF004", "construction_at")),
    ("IPF004", {"modified_at": "x = F.relu(x, inplace=True)"}, ("IPF004", "modified_at")),
    ("IPF004", {}, ("IPF004", "modified_at")),
    # IPF005 -> alias_at, then data_at, else the write
    ("IPF005", {"modified_at": "d.mul_(0.5)", "alias_at": ALIAS, "data_at": DATA}, ("IPF005", "alias_at")),
    ("IPF005", {"modified_at": "d.mul_(0.5)", "data_at": DATA}, ("IPF005", "data_at")),
    ("IPF005", {"modified_at": "act.clamp_(max=0.9)"}, ("IPF005", "modified_at")),
    # ... and a `.data` write statement is made visible by IPF002
    ("IPF005", {"modified_at": "h.data.mul_(0.5)"}, ("IPF002", "modified_at")),
    ("IPF005", {"modified_at": "    self.h.data.add_(1)"}, ("IPF002", "modified_at")),
    ("IPF005", {"modified_at": "h.data.mul_(0.5)", "data_at": DATA}, ("IPF005", "data_at")),
])
def test_fix_targets_reproduce_the_planners_old_site_choice(code: str, sites: dict, expected: tuple) -> None:
    from inplace_fix.transforms.base import FixTarget

    (target,) = get_rule(code).fix_targets(sites)
    assert isinstance(target, FixTarget) and (target.rule, target.site) == expected
    assert target.title == (VISIBLE if expected[0] != code else get_rule(code).title)


def test_data_alias_line_is_the_nearest_data_read_in_the_function() -> None:
    rule = get_rule("IPF005")
    src = "def f(self, x):\n    act = x.data\n    h = self.fc1(x)\n    act = h.data\n    out = self.fc2(h)\n" \
          "    act.clamp_(max=0.9)\n    return out\n"
    assert rule.alias_line(src, 6, "act.clamp_(max=0.9)") == 4
    assert rule.alias_line("act = h.data\ndef f():\n    act.clamp_()\n", 3, "act.clamp_()") is None
    assert rule.alias_line(src, 6, "(act).clamp_()") is None
    assert rule.alias_line(src, 10, "act.clamp_()") == 4  # a stale line past the end of the file
    assert get_rule("IPF002").alias_line(src, 6, "act.clamp_(max=0.9)") is None


def test_config_literal_matching_of_ipf004() -> None:
    import ast

    from inplace_fix.transforms.context import FileContext

    rule = get_rule("IPF004")
    src = 'a = dict(type="mmcv.ReLU", inplace=True)\nb = {"type": nn.GELU, "inplace": True}\n' \
          'c = dict(type=act, inplace=False)\nd = {"inplace": True}\ne = "é" + str(dict(type=f(), inplace=True))\n'
    ctx = FileContext.build(src)
    found = [(n.lineno, rule.config_type(n), rule.config_position(ctx, n))
             for n in ast.walk(ctx.tree) if rule.is_config_literal(n)]
    assert sorted(found) == [(1, ("ReLU", True), Position(1, 4)), (2, ("GELU", False), Position(2, 4)),
                             (4, (None, False), Position(4, 4)), (5, (None, False), Position(5, 14))]
