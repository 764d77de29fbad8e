"""IPF008: an in-place op on a leaf that requires grad; wrap it in `torch.no_grad()`."""

from __future__ import annotations

import ast
from typing import ClassVar

from functools import lru_cache

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Position, Rule
from inplace_fix.transforms.common import declined, in_suite, is_module_path, shares_line
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.data.inplace_tables import TENSOR_METHOD_TWINS, TENSOR_METHODS_NO_TWIN
from inplace_fix.transforms.evidence import get_evidence
from inplace_fix.transforms.evidence.comments import keep_request
from inplace_fix.transforms.ipf003_inplace_function import twin_of
from inplace_fix.transforms.lazycst import cst

_METHODS = frozenset(TENSOR_METHOD_TWINS) | frozenset(TENSOR_METHODS_NO_TWIN)


def mutated_expr(ctx: FileContext, stmt: ast.stmt) -> ast.AST | None:
    """The tensor a statement writes in place, if it is one of the in-place forms."""
    if isinstance(stmt, ast.AugAssign):
        return stmt.target
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Subscript):
        return stmt.targets[0]
    value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if isinstance(value, ast.Call):
        func = value.func
        if twin_of(ctx.qualname(func)) is not None:
            return value.args[0] if value.args else None
        if isinstance(func, ast.Attribute) and func.attr in _METHODS and not is_module_path(ctx, func.value):
            return func.value
    return None


class LeafInplace(Rule):
    code: ClassVar[str] = "IPF008"
    name: ClassVar[str] = "leaf-inplace"
    message: ClassVar[str] = "in-place op on a leaf tensor that requires grad; wrap it in `with torch.no_grad():`"
    title: ClassVar[str] = "wrap the in-place update of the leaf in `with torch.no_grad():`"
    hand_fix: ClassVar[str] = "wrap the update in `with torch.no_grad():`"
    runtime_kinds: ClassVar[tuple[str, ...]] = ("leaf-modified",)
    finds: ClassVar[str] = (
        'In-place updates of a leaf tensor that requires grad outside `torch.no_grad()`: manual SGD steps'
        ' (`w -= lr * w.grad`), initialisation (`self.weight.normal_(0, 0.02)`), in-place ops on '
        '`nn.Parameter`s and on views of them.'
    )
    breaks: ClassVar[str] = (
        'torch refuses to record an in-place change of a leaf that requires grad: it raises "a leaf '
        'Variable that requires grad is being used in an in-place operation" (or the view-of-a-leaf form '
        'of that error). Such updates are meant to happen outside autograd, which is what `with '
        'torch.no_grad():` says.'
    )
    explanation: ClassVar[str] = (
        "A leaf that requires grad (an nn.Parameter, a tensor created with requires_grad=True, "
        "`p` from `model.parameters()`) cannot be modified in place while autograd records: torch "
        "raises 'a leaf Variable that requires grad is being used in an in-place operation' (or a "
        "view-of-a-leaf error for `b = self.bias.view(...); b[:, 4] += c`). Manual SGD updates "
        "(`w -= lr * w.grad`) and weight initialisation (`self.weight.normal_(0, 0.02)`) are meant to "
        "happen outside autograd, which is what `with torch.no_grad():` says. The statement is wrapped "
        "as it is, re-indented, with its comments, together with the leaf updates right next to it (a run of "
        "consecutive in-place updates of leaves in the same block, which torch would refuse one at a time; a "
        "statement that is not one, or a blank line, ends the run). This rule runs in init code too (where "
        "the other rules are silent) and takes precedence over IPF001/IPF002/IPF003/IPF006 on the same site. "
        "Refused (flagged, no fix): a statement sharing its line or on a one-line compound, and files "
        "that do not import torch."
    )
    safety: ClassVar[FixSafety] = FixSafety.SAFE
    unsafe_when: ClassVar[str] = (
        "Forward values are unchanged and the original raised, so there is no previous behaviour to "
        "preserve. The rewrite assumes the update is meant to be invisible to autograd (an update or an "
        "initialisation); if it was meant to be differentiated through, the leaf must be cloned "
        "instead, which no local rewrite can decide."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "import torch\n\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1 * w.grad\n",
        "import torch\n\nw = torch.randn(3)\nw -= 0.1\n",
        "import torch\n\n@torch.no_grad()\ndef init(m):\n    m.weight.normal_(0, 0.02)\n",
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def _init_weights(self, m):\n        nn.init.normal_(m.weight, 0, 0.02)\n",
        "import torch\n\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n        for p in self.params:\n"
        "            p.add_(p.grad, alpha=-0.1)\n",
        "import torch\n\ndef f(model):\n    for p in model.parameters():\n        p.grad.zero_()\n",
        "import torch\n\ndef f(model):\n    for p in model.parameters():\n        p.data.mul_(0.9)\n",
        "import torch\n\ndef f(a):\n    w = torch.randn(3, requires_grad=True)\n    y = w * a\n    return y\n",
        "import torch\n\ndef trunc_normal_(tensor, a, b):\n    tensor.uniform_(a, b)\n",
        "import torch\n\nw = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n    w.uniform_(-1, 1)\n    w.mul_(2)\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad\n",
                "import torch\n\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1 * w.grad\n"),
        Example("import torch\n\ndef train(x):\n    w = torch.zeros(3, requires_grad=True)\n    loss = (w * x).sum()\n"
                "    loss.backward()\n    w -= 0.1 * w.grad  # sgd\n",
                "import torch\n\ndef train(x):\n    w = torch.zeros(3, requires_grad=True)\n    loss = (w * x).sum()\n"
                "    loss.backward()\n    with torch.no_grad():\n        w -= 0.1 * w.grad  # sgd\n"),
        Example("import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.weight = nn.Parameter(torch.empty(3, 3))\n        self.weight.normal_(0, 0.02)\n",
                "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.weight = nn.Parameter(torch.empty(3, 3))\n        with torch.no_grad():\n"
                "            self.weight.normal_(0, 0.02)\n"),
        Example("import torch\n\ndef step(model, lr):\n    for p in model.parameters():\n        p.add_(p.grad, alpha=-lr)\n",
                "import torch\n\ndef step(model, lr):\n    for p in model.parameters():\n        with torch.no_grad():\n"
                "            p.add_(p.grad, alpha=-lr)\n"),
        Example("import torch\n\ndef f():\n    w = torch.ones(2, requires_grad=True)\n    w.zero_()\n    return w\n",
                "import torch\n\ndef f():\n    w = torch.ones(2, requires_grad=True)\n    with torch.no_grad():\n        w.zero_()\n    return w\n"),
        Example("import torch\n\ndef f():\n    w = torch.ones(2, requires_grad=True)\n    w[0] = 5\n    return w\n",
                "import torch\n\ndef f():\n    w = torch.ones(2, requires_grad=True)\n    with torch.no_grad():\n        w[0] = 5\n    return w\n"),
        Example("import torch\nimport torch.nn as nn\n\nclass Detect(nn.Module):\n    def _initialize_biases(self, m):\n"
                "        b = m.bias.view(3, -1)\n        b[:, 4] += 1.5\n",
                "import torch\nimport torch.nn as nn\n\nclass Detect(nn.Module):\n    def _initialize_biases(self, m):\n"
                "        b = m.bias.view(3, -1)\n        with torch.no_grad():\n            b[:, 4] += 1.5\n"),
        Example("import torch\n\ndef f():\n    w = torch.ones(2).requires_grad_()\n    torch.sigmoid_(w)\n",
                "import torch\n\ndef f():\n    w = torch.ones(2).requires_grad_()\n    with torch.no_grad():\n        torch.sigmoid_(w)\n"),
        Example("import torch as th\n\ndef f():\n    w = th.ones(2, requires_grad=True)\n\n    # init\n    w.uniform_(-1, 1)\n",
                "import torch as th\n\ndef f():\n    w = th.ones(2, requires_grad=True)\n\n    # init\n    with th.no_grad():\n        w.uniform_(-1, 1)\n"),
        # a run of leaf updates gets one block; a statement that is not an in-place op ends the run
        Example("import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.w = nn.Parameter(torch.empty(3, 3))\n        self.b = nn.Parameter(torch.empty(3))\n"
                "        self.w.normal_(0, 0.01)\n        # no bias at start\n        self.b.zero_()\n        self.scale = 2\n",
                "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.w = nn.Parameter(torch.empty(3, 3))\n        self.b = nn.Parameter(torch.empty(3))\n"
                "        with torch.no_grad():\n            self.w.normal_(0, 0.01)\n            # no bias at start\n"
                "            self.b.zero_()\n        self.scale = 2\n"),
        Example("import torch\n\nw = torch.ones(2, requires_grad=True)\nb = torch.ones(2, requires_grad=True)\n"
                "w.uniform_(-1, 1)\nb.zero_()\nn = 3\nw += 1\n",
                "import torch\n\nw = torch.ones(2, requires_grad=True)\nb = torch.ones(2, requires_grad=True)\n"
                "with torch.no_grad():\n    w.uniform_(-1, 1)\n    b.zero_()\nn = 3\nwith torch.no_grad():\n    w += 1\n"),
        Example("import torch\n\ndef f():\n    w = torch.ones(2, requires_grad=True)\n    w.zero_(); w.add_(1)\n", None),
        Example("import torch\n\ndef f(c):\n    w = torch.ones(2, requires_grad=True)\n    if c: w.zero_()\n", None),
        Example("from torch import nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.fc = nn.Linear(2, 2)\n        self.fc.weight.fill_(0.0)\n", None),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        has_torch = ctx.torch_name() is not None
        for kind in (ast.AugAssign, ast.Assign, ast.Expr):
            for site in ctx.of(kind):
                stmt = site.node
                if mutated_expr(ctx, stmt) is None:
                    continue
                fixable, why = True, ""
                if not has_torch:
                    fixable, why = False, "the file does not import torch"
                elif shares_line(ctx, stmt) or in_suite(ctx, stmt):
                    fixable, why = False, "the statement shares its line"
                out.append(Candidate(stmt, ctx.position(stmt), ctx.end_position(stmt), fixable, why))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        scopes = {id(s.node): s.scope for k in (ast.AugAssign, ast.Assign, ast.Expr) for s in ctx.of(k)}
        findings = []
        for cand in self.candidates(ctx):
            scope = scopes[id(cand.node)]
            if scope.no_grad or scope.optimizer or scope.inplace_api:
                continue
            verdict = ev.leaf(mutated_expr(ctx, cand.node), scope)
            if not verdict.tensor:
                continue
            finding = self.finding(ctx, cand, confidence=verdict.confidence, note=verdict.note)
            findings.append(declined(finding, keep_request(ctx, cand.node)))
        return findings

    def fix_suite(self, original: cst.CSTNode, updated: cst.CSTNode, rc) -> cst.CSTNode | None:
        """Join each `with no_grad():` this pass made with the leaf updates next to it (and with the
        other blocks it made there) into one block: `self.w.normal_(0, 0.01)` then `self.b.zero_()`
        fail one at a time at runtime, but they are one initialisation and get one block."""
        torch = rc.torch()
        if torch is None or len(original.body) != len(updated.body):
            return None
        starts = _leaf_update_starts(self, rc.source)
        kinds = [_member_kind(o, u, torch, rc, starts) for o, u in zip(original.body, updated.body)]
        if "wrapped" not in kinds:
            return None
        body: list = []
        i = 0
        while i < len(kinds):
            end = _run_end(kinds, updated.body, i)
            run = list(range(i, end))
            if len(run) > 1 and any(kinds[k] == "wrapped" for k in run):
                body.append(_joined([(kinds[k], updated.body[k]) for k in run]))
            else:
                body.extend(updated.body[i:end])
            i = end
        return updated.with_changes(body=body)

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> object | None:
        if not isinstance(updated, cst.SimpleStatementLine) or len(updated.body) != 1:
            return None
        if not rc.targeted(original.body[index]):
            return None
        torch = rc.torch()
        if torch is None:
            return None
        return cst.With(
            items=[cst.WithItem(item=cst.parse_expression(f"{torch}.no_grad()"))],
            body=cst.IndentedBlock(body=[updated.with_changes(leading_lines=())]),
            leading_lines=updated.leading_lines,
        )


@lru_cache(maxsize=8)
def _leaf_update_starts(rule: LeafInplace, source: str) -> frozenset[Position]:
    """Where the file's statements that update a leaf in place start (what this rule flags and can fix)."""
    try:
        ctx = FileContext.build(source)
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(Position(f.line, f.col) for f in rule.find(ctx) if f.fixable)


def _member_kind(original: cst.CSTNode, updated: cst.CSTNode, torch: str, rc, starts: frozenset[Position]) -> str | None:
    """"wrapped": a line this pass put in `with no_grad():`; "leaf": a line that updates a leaf in
    place, left as it is; None: anything else, which ends a run."""
    if not isinstance(original, cst.SimpleStatementLine):
        return None
    if isinstance(updated, cst.With):
        return "wrapped" if _is_new_no_grad(updated, torch) else None
    if isinstance(updated, cst.SimpleStatementLine) and len(updated.body) == 1 and rc.file_position(original) in starts:
        return "leaf"
    return None


def _is_new_no_grad(block: cst.With, torch: str) -> bool:
    body = block.body
    return (len(block.items) == 1 and isinstance(block.items[0].item, cst.Call)
            and cst.Module([]).code_for_node(block.items[0].item) == f"{torch}.no_grad()"
            and isinstance(body, cst.IndentedBlock) and len(body.body) == 1
            and isinstance(body.body[0], cst.SimpleStatementLine))


def _run_end(kinds: list, body: list, start: int) -> int:
    """One past the last statement of the run that starts at `start` (a blank line ends it too)."""
    end = start + 1
    if kinds[start] is None:
        return end
    while end < len(kinds) and kinds[end] is not None and not _blank_before(body[end]):
        end += 1
    return end


def _blank_before(statement: cst.CSTNode) -> bool:
    return any(line.comment is None for line in getattr(statement, "leading_lines", ()))


def _joined(members: list) -> cst.With:
    """One `with no_grad():` holding every member's line, the first member's leading lines above it."""
    template = next(node for kind, node in members if kind == "wrapped")
    lines = []
    leading: tuple = ()
    for index, (kind, node) in enumerate(members):
        line = node.body.body[0] if kind == "wrapped" else node
        above = node.leading_lines
        if index == 0:
            leading = above
            above = ()
        lines.append(line.with_changes(leading_lines=above))
    return template.with_changes(body=template.body.with_changes(body=lines), leading_lines=leading)
