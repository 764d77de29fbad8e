"""A rewrite parses only the statements around its targets, and writes exactly what a parse of
the whole top-level statement would: the cut never changes a byte of the result."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from inplace_fix.transforms import rewriter
from inplace_fix.transforms.api import analyze, rewrite
from inplace_fix.transforms.base import FixSafety
from inplace_fix.transforms.registry import ALL_RULES

ROOT = Path(__file__).resolve().parents[2]

# Shapes where a cut could go wrong: string literals at the margin, comments left of the block,
# two statements on a line, a body on the header's line, decorators, loops around the target,
# neighbouring leaf updates that one suite hook joins, tabs, nested functions and classes,
# backslash continuations at either end, `elif` clauses, a header whose string holds a line that
# looks like a comment, and blocks indented by another unit than the chunk's first one.
TRICKY = {
    "margin_string": '''
        import torch

        class Net(torch.nn.Module):
            def forward(self, x):
                y = x.exp()
                doc = """
        at the margin
        """
                y += 1
                return y
        ''',
    "comment_left_of_block": '''
        import torch

        class Net(torch.nn.Module):
            def forward(self, x):
                y = x.exp()
        # a comment at column 0 inside the method
                y.mul_(2)
                return y
        ''',
    "comments_above_split_line": '''
        import torch

        def f(x):
            y = torch.sigmoid(x)

            # this comment stays with the statement
            # and this one
            y[0] = 0
            return y
        ''',
    "semicolons_and_suites": '''
        import torch

        def f(x, c):
            y = x.exp(); y += 1
            if c: y.mul_(2)
            return y
        ''',
    "loops_around": '''
        import torch

        class Net(torch.nn.Module):
            def forward(self, x, parts):
                y = x.exp()
                for k in range(3):
                    if k:
                        y.add_(k)
                for row in y:
                    row.div_(2)
                return y
        ''',
    "decorated_and_nested": '''
        import torch

        class Outer(torch.nn.Module):
            @torch.jit.ignore
            def helper(self, x):
                def inner(t):
                    t = t.exp()
                    t += 1
                    return t
                return inner(x)

            class Inner(torch.nn.Module):
                def forward(self, x):
                    y = x.sigmoid()
                    y *= 2
                    return y
        ''',
    "leaf_updates_joined": '''
        import torch

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.empty(3))
                self.b = torch.nn.Parameter(torch.empty(3))

            def reinit(self):
                self.w.normal_(0, 0.01)
                self.b.zero_()
        ''',
    'backslash_joins_line_above': 'import torch\n\ndef g(x, c):\n    y = torch.sigmoid(x)\n    if c: \\\n        y[0] = 0\n    z = torch.sigmoid(x)\n    z += 1\n    z = torch.sigmoid(x)\n    if c: \\\n        z += 1\n    w = torch.tanh(x)\n    if c: \\\n        w.mul_(2)\n    return y, z, w\n\nclass M(torch.nn.Module):\n    def reinit(self, c):\n        if c: \\\n            self.w.zero_()\n        self.b.zero_()\n',
    'elif_header_target': 'import torch\nimport torch.nn.functional as F\n\ndef g(x, c):\n    y = torch.sigmoid(x)\n    if c:\n        pass\n    elif F.relu(y, inplace=True).sum() > 0:\n        y = 1\n    return y\n',
    'backslash_ends_statement': 'import torch\n\ndef g(x, c):\n    y = torch.sigmoid(x)\n    y += 1 \\\n\n    return y\n',
    'decorator_line_ends_with_colon': 'import torch\nimport torch.nn as nn\n\n\n@some_registry(key=lambda t:\n               t)\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.w = nn.Parameter(torch.empty(3))\n        self.b = nn.Parameter(torch.empty(3))\n\n    def reinit(self):\n        self.w.normal_(0, 0.01)\n        self.b.zero_()\n',
    'loop_body_indented_by_two': 'import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n        y = torch.sigmoid(x)\n        for k in range(3):\n          y[k] = 0\n        return y\n',
    'header_string_looks_like_comment': 'import torch\n\n\ndef f(x, s):\n    y = torch.sigmoid(x)\n    if s == """\n        #""":\n        y[0] = 0\n    for k in range(3):\n        pass\n    with open("""\n        # a file name""") as fh:\n        y.mul_(2)\n    return y\n',
    'except_and_case_header_strings': 'import torch\n\n\ndef f(x, s):\n    y = torch.sigmoid(x)\n    try:\n        pass\n    except s.get("""\n        #"""):\n        y[0] = 0\n    return y\n\n\ndef g(x, s):\n    y = torch.sigmoid(x)\n    match s:\n        case """\n            #""":\n            y[0] = 0\n    return y\n',
    'backslash_after_semicolon': 'import torch\n\ndef g(x, c):\n    y = torch.sigmoid(x); \\\n    y[0] = 0\n    return y\n',
    'trailing_backslash_then_semicolon': 'import torch\n\ndef g(x, c):\n    y = torch.sigmoid(x)\n    y += 1 \\\n    ; z = 1\n    return y\n',
    'elif_body_semicolon': 'import torch\n\ndef h(x, c):\n    y = torch.sigmoid(x)\n    if c:\n        pass\n    elif c > 1:\n        y[0] = 0; z = 1\n    return y\n\ndef k(x, c):\n    y = torch.sigmoid(x)\n    if c:\n        pass\n    elif c > 1:\n        y.mul_(2); z = 1\n    return y\n\ndef m(x, c):\n    y = torch.sigmoid(x)\n    if c:\n        pass\n    elif c > 1:\n        y += 1\n        z = 1;\n    return y\n',
    "tabs": "import torch\n\nclass Net(torch.nn.Module):\n\tdef forward(self, x):\n\t\ty = x.exp()\n\t\ty += 1\n\t\treturn y\n",
    "two_space_indent": '''
        import torch

        class Net(torch.nn.Module):
          def forward(self, x):
            y = x.exp()
            with torch.enable_grad():
              y.add_(1)
            return torch.relu_(y)
        ''',
}


def _source(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n") if text.startswith("\n") else text


def _targets(source: str) -> dict[str, set]:
    wanted: dict[str, set] = {}
    for finding in analyze(source):
        if finding.fixable and finding.safety is not FixSafety.NONE:
            wanted.setdefault(finding.code, set()).add(finding.position)
    return wanted


def _both_ways(source: str, monkeypatch: pytest.MonkeyPatch):
    wanted = _targets(source)
    results = []
    for cut in (False, True):
        monkeypatch.setattr(rewriter, "CUT_STATEMENTS", cut)
        outcome = rewrite(source, wanted)
        results.append((outcome.source, outcome.applied_by_rule))
    return wanted, results


def _corpus_files() -> list[Path]:
    return sorted((ROOT / "corpora").rglob("*.py"))


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_shapes_rewrite_as_a_whole_parse_would(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(TRICKY[name])
    refused: list[str] = []  # cut pieces libcst could not parse alone: a shape the checks missed
    real = rewriter._rewrite_chunk

    def recording(pieces, *args):
        try:
            return real(pieces, *args)
        except rewriter.cst.ParserSyntaxError:
            refused.extend(p.text for p in pieces if p.indent)
            raise

    monkeypatch.setattr(rewriter, "_rewrite_chunk", recording)
    wanted, (whole, pieces) = _both_ways(source, monkeypatch)
    assert wanted, f"{name}: the snippet has no target, so it tests nothing"
    assert pieces == whole
    compile(pieces[0], name, "exec")
    assert refused == [], "a cut piece did not parse on its own (it fell back to the whole chunk)"


def test_every_corpus_file_and_rule_example_rewrites_as_a_whole_parse_would(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [p.read_text(encoding="utf-8") for p in _corpus_files()]
    sources += [ex.before for rule in ALL_RULES for ex in rule.invalid]
    rewritten = 0
    for source in sources:
        wanted, (whole, pieces) = _both_ways(source, monkeypatch)
        assert pieces == whole
        rewritten += whole[0] != source
    assert rewritten > 50


def test_a_target_in_one_method_parses_that_statement_only(monkeypatch: pytest.MonkeyPatch) -> None:
    methods = "".join(f"    def other{i}(self, x):\n        return x * {i}\n\n" for i in range(50))
    source = ("import torch\n\n\nclass Big(torch.nn.Module):\n" + methods
              + "    def forward(self, x):\n        y = x.exp()\n        y += 1\n        return y\n")
    parsed: list[str] = []
    real = rewriter.cst.parse_module
    monkeypatch.setattr(rewriter.cst, "parse_module", lambda code, *a, **k: parsed.append(code) or real(code, *a, **k))
    outcome = rewrite(source, _targets(source))
    assert "        y = y + 1\n" in outcome.source
    assert parsed == ["y += 1\n"]
