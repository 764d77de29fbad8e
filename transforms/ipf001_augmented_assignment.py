"""IPF001: `x += y` on a tensor mutates it in place; `x = x + y` rebinds instead."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, FixTarget, Rule
from inplace_fix.transforms.common import (
    bound_names, decline_reason, declined, fresh_before, loop_of, pure_index, python_list,
)
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.cstutil import binary_operator_for, is_reevaluable, parenthesize_operand
from inplace_fix.transforms.evidence import Confidence, get_evidence
from inplace_fix.transforms.ipf006_indexed_assignment import IndexedAssignment
from inplace_fix.transforms.lazycst import cst

_OPS = ("+", "-", "*", "/", "//", "%", "**", "@", "&", "|", "^", "<<", ">>")


def _invalid_all_ops() -> tuple[Example, ...]:
    out = []
    for op in _OPS:
        out.append(Example(
            "import torch\n\ndef f(a, b):\n    x = torch.tanh(a)\n"
            f"    x {op}= b\n    return x\n",
            "import torch\n\ndef f(a, b):\n    x = torch.tanh(a)\n"
            f"    x = x {op} b\n    return x\n",
        ))
    return tuple(out)


class AugmentedAssignment(Rule):
    code: ClassVar[str] = "IPF001"
    name: ClassVar[str] = "augmented-assignment"
    message: ClassVar[str] = "augmented assignment modifies a tensor in place; rebind with `x = x op y`"
    title: ClassVar[str] = "rewrite the augmented assignment out of place"
    hand_fix: ClassVar[str] = "write `x = x + y` instead of `x += y`"
    finds: ClassVar[str] = (
        'Augmented assignments (`x += y`, `x -= y`, `x *= y`, `x /= y`, `x @= y`, ...) whose target is a '
        'tensor that autograd tracks: a local name, an element of a local list of tensors, or a plain '
        'attribute.'
    )
    breaks: ClassVar[str] = (
        'On a tensor, `x += y` is `x.add_(y)`: it overwrites the storage of `x` and bumps its version '
        'counter. If an earlier operation saved `x` for its backward (relu, sigmoid, tanh, exp and '
        'softmax save their output; mul and matmul save their inputs), `backward()` raises "one of the '
        'variables needed for gradient computation has been modified by an inplace operation".'
    )
    explanation: ClassVar[str] = (
        "On a tensor, `x += y` calls `x.add_(y)`: it overwrites the storage of `x` and bumps its "
        "version counter. If an earlier operation saved `x` for its backward (relu, sigmoid, tanh, "
        "exp and softmax save their output; mul and matmul save their inputs), backward() fails with "
        "'modified by an inplace operation'. `x = x + y` computes the same values into a new tensor "
        "and leaves the saved one intact. An element of a local Python list of tensors (`outs[k] += "
        "self.up(outs[k + 1])`) becomes `outs[k] = outs[k] + ...` when the index is side-effect free to "
        "repeat (names, constants, arithmetic, slices). An element of a tensor (`t[i] += v`) is not: "
        "`t[i] = t[i] + v` still writes into `t`, so a saved `t` is still overwritten; that write belongs "
        "to IPF006, which gives it a copy of `t` (the runtime fixer hands it over). An attribute target (`self.h += y`) is rewritten only "
        "when it is a plain attribute chain, so nothing with a side effect is evaluated twice."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "The rewrite rebinds the name instead of writing into the tensor. It is safe only when the "
        "target is a local name, every assignment to it in the function creates a new tensor "
        "(arithmetic, or a torch/F call or tensor method that does not return a view or its input), "
        "it is not a function parameter (that aliases the caller's tensor), and it is never stored "
        "where another reference could see it (assigned to another name, an attribute or a "
        "container, appended, yielded, viewed, captured by a closure). Otherwise another reference "
        "saw the in-place update before and no longer does; passing the name to a call that keeps "
        "it is not detected. Attribute targets are always unsafe. No rewrite is offered at all (the "
        "finding stays, with no automatic fix and the reason) where a rebinding cannot reach every reader "
        "of the old tensor: a parameter the caller still sees (the function returns None or something "
        "else, or a call in the file ignores the result or reads the argument again), a global or "
        "closure variable (the new binding would make it local: UnboundLocalError) or one declared "
        "`global`/`nonlocal`, a name that may be a Python list, dict or numpy array, a class attribute "
        "through `self`; nor where a comment asks to keep the operation (`# NOTE leave as '+='`, "
        "`# keep in-place`, `# must be in-place`, `# do not change`)."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "def f(n):\n    i = 0\n    for _ in range(n):\n        i += 1\n    return i\n",
        "def f(loader, model):\n    total = 0.0\n    for x in loader:\n        loss = model(x)\n"
        "        total += loss.item()\n    return total\n",
        "def f(items):\n    names = []\n    for n in items:\n        names += [n]\n    return names\n",
        "def f():\n    s = ''\n    s += 'x'\n    return s\n",
        "import numpy as np\n\ndef f():\n    a = np.zeros(3)\n    a += 1\n    return a\n",
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
        "        self.count += 1\n        return x\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    with torch.no_grad():\n"
        "        x += 1\n    return x\n",
        "import torch\n\n@torch.no_grad()\ndef ema(a, b):\n    x = torch.relu(a)\n    x *= b\n",
        "import torch\n\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n"
        "        for p in self.params:\n            d = torch.zeros_like(p)\n            d += p.grad\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    x = x + 1\n    return x\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    x[0] += 1\n    return x\n",
        "import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    with torch.inference_mode():\n"
        "        x /= 2\n",
        "def f(x):\n    x += 1\n    return x\n",
        "import torch\n\ndef f(a):\n    n = a.size(0)\n    n += 1\n    h, w = a.shape[-2:]\n    h *= 2\n",
        "import torch\n\ndef f(k, r):\n    d = torch.arange(k)\n    d += r\n    return d\n",
        "import torch\n\ndef f(x: torch.Tensor):\n    i = torch.argmax(x, -1)\n    y = x * 2\n"
        "    i += 1\n    return i, y\n",  # an integer tensor never requires grad
        "import torch\n\ndef f(n, k):\n    idx = torch.randperm(n).tolist()\n    idx += idx[:k]\n"
        "    idx = torch.tensor(idx)\n    return idx\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a).clone()\n    x = x.clone()\n    x += 1\n    return x\n",
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
        "        self.fc.weight.data *= 2\n        return x\n",
        "import torch\n\ndef f(a, i):\n    t = torch.sigmoid(a)\n    t[i] += a[i]\n    return t\n",  # IPF006's
        "def f(n):\n    counts = [0] * n\n    counts[n - 1] += 1\n    return counts\n",
        "import torch.nn as nn\n\nclass Act(nn.Module):\n    def __init__(self, inplace=False):\n        super().__init__()\n"
        "        self.inplace = inplace\n\n    def forward(self, x):\n        x += 3\n        return x\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = _invalid_all_ops() + (
        # a loop variable: rebinding it would not write back into the tensor it iterates
        Example("import torch\n\ndef f(x):\n    h = torch.relu(x)\n    for row in h:\n        row += 1\n    return h\n"),
        Example(
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x *= b + c\n    return x\n",
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x = x * (b + c)\n    return x\n",
        ),
        Example(
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x += b + c\n    return x\n",
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x = x + (b + c)\n    return x\n",
        ),
        Example(
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x -= b * c\n    return x\n",
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x = x - b * c\n    return x\n",
        ),
        Example(
            "import torch\n\ndef f(a, b):\n    x = torch.exp(a)\n    x **= b ** 2\n    return x\n",
            "import torch\n\ndef f(a, b):\n    x = torch.exp(a)\n    x = x ** b ** 2\n    return x\n",
        ),
        Example(  # comments and odd spacing kept
            "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)  # gate\n    x  +=  b  # add\n    return x\n",
            "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)  # gate\n    x  =  x + b  # add\n    return x\n",
        ),
        Example(  # forward input of an nn.Module: the caller's tensor -> unsafe
            "import torch.nn as nn\n\nclass Block(nn.Module):\n    def forward(self, x):\n"
            "        x += self.lateral(x)\n        return x\n",
            "import torch.nn as nn\n\nclass Block(nn.Module):\n    def forward(self, x):\n"
            "        x = x + self.lateral(x)\n        return x\n",
            unsafe=True,
        ),
        Example(  # torchvision-style residual: still flagged (scan cannot know BN saves its input)
            "import torch.nn as nn\n\nclass B(nn.Module):\n    def forward(self, x):\n        identity = x\n"
            "        out = self.bn(self.conv(x))\n        out += identity\n        return self.relu(out)\n",
            "import torch.nn as nn\n\nclass B(nn.Module):\n    def forward(self, x):\n        identity = x\n"
            "        out = self.bn(self.conv(x))\n        out = out + identity\n        return self.relu(out)\n",
            unsafe=True,
        ),
        Example(  # attribute target: plain chain, rewritten, unsafe
            "import torch\n\nclass M:\n    def __call__(self, a):\n        self.h = torch.tanh(a)\n"
            "        self.h += a\n        return self.h\n",
            "import torch\n\nclass M:\n    def __call__(self, a):\n        self.h = torch.tanh(a)\n"
            "        self.h = self.h + a\n        return self.h\n",
            unsafe=True,
        ),
        Example(  # side effect in the target: flag, no fix
            "import torch\n\ndef f(a, get):\n    get().h += torch.tanh(a)\n",
            None,
        ),
        Example(  # annotated parameter
            "import torch\nfrom torch import Tensor\n\ndef f(x: Tensor, y):\n    x += y\n    return x\n",
            "import torch\nfrom torch import Tensor\n\ndef f(x: Tensor, y):\n    x = x + y\n    return x\n",
            unsafe=True,
        ),
        Example(  # one-line suite and semicolons
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a) * 2\n    if b is not None: x += b\n    return x\n",
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a) * 2\n    if b is not None: x = x + b\n    return x\n",
        ),
        Example(
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a); x += b; return x\n",
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a); x = x + b; return x\n",
        ),
        Example(  # the value is a conditional expression: parenthesised
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x += b if c else a\n    return x\n",
            "import torch\n\ndef f(a, b, c):\n    x = torch.relu(a)\n    x = x + (b if c else a)\n    return x\n",
        ),
        Example(  # an element of a Python list of tensors: rebinding the element, index repeated as is
            "import torch\n\ndef f(feats, up):\n    outs = [torch.sigmoid(x) for x in feats]\n"
            "    for k in range(len(outs) - 2, -1, -1):\n        outs[k] += up(outs[k + 1])  # top-down\n"
            "    return outs\n",
            "import torch\n\ndef f(feats, up):\n    outs = [torch.sigmoid(x) for x in feats]\n"
            "    for k in range(len(outs) - 2, -1, -1):\n        outs[k] = outs[k] + up(outs[k + 1])  # top-down\n"
            "    return outs\n",
            unsafe=True,
        ),
        Example(  # a list element whose index has a side effect: flagged, never repeated
            "import torch\n\ndef f(a, order):\n    outs = [torch.tanh(a), torch.tanh(a)]\n    outs[order.pop()] += a\n"
            "    return outs\n",
            None,
        ),
        Example(  # aliased into a list: unsafe
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a)\n    feats = [x]\n    x += b\n    return feats\n",
            "import torch\n\ndef f(a, b):\n    x = torch.relu(a)\n    feats = [x]\n    x = x + b\n    return feats\n",
            unsafe=True,
        ),
        # a parameter and `add_pos` returns None: the caller sees `x += pos`; kept, no fix
        Example("import torch\n\ndef add_pos(x: torch.Tensor, pos):\n    x += pos\n"),
        # a parameter returned, but a caller here ignores the result: kept, no fix
        Example("import torch\n\ndef add_pos(x: torch.Tensor, pos):\n    x += pos\n    return x\n\n\n"
                "def embed(a, pos):\n    add_pos(a, pos)\n    return a\n"),
        # a parameter and `forward` returns something else: the caller's `token` sees the write; kept, no fix
        Example("import torch.nn as nn\n\nclass Dec(nn.Module):\n    def forward(self, token):\n"
                "        token += self.pos\n        return self.fc(token)\n"),
        # declared global: `state = state + ...` would leave readers of the old tensor behind; kept, no fix
        Example("import torch\n\nstate = torch.sigmoid(torch.ones(3))\n\ndef f(a):\n    global state\n"
                "    state += torch.sigmoid(a)\n    return a\n"),
        # declared nonlocal: the same for the enclosing function's `h`; kept, no fix
        Example("import torch\n\ndef f(a):\n    h = torch.sigmoid(a)\n\n    def step(b):\n"
                "        nonlocal h\n        h += torch.tanh(b)\n\n    step(a)\n    return h\n"),
        # a Python list (`.append`): kept, no fix
        Example("import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, feats, extra):\n"
                "        feats.append(extra)\n        feats += self.more\n        return feats\n"),
        # a class attribute: `self.h = ...` would shadow it on one instance; kept, no fix
        Example("import torch\n\nclass M:\n    h = torch.sigmoid(torch.ones(3))\n\n"
                "    def __call__(self, a):\n        self.h += torch.tanh(a)\n        return self.h\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch\n\ndef f(a, pos):\n    x = torch.sigmoid(a)\n    # NOTE leave as '+='\n"
                "    x += pos\n    return x\n"),
        # a parameter rebound to a new tensor first: the caller's tensor is not written; rewritten
        Example("import torch\n\ndef f(x: torch.Tensor, y):\n    x = x * 2\n    x += y\n    print(x)\n",
                "import torch\n\ndef f(x: torch.Tensor, y):\n    x = x * 2\n    x = x + y\n    print(x)\n", unsafe=True),
        # a parameter viewed first: the write still reaches the caller; kept, no fix
        Example("import torch\n\ndef f(x: torch.Tensor, y):\n    x = x.view(-1)\n    x += y\n"),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for site in ctx.of(ast.AugAssign):
            node = site.node
            if isinstance(node.target, ast.Subscript):
                if _of_list(ctx, site):
                    pure = pure_index(node.target.slice)
                    out.append(Candidate(node, ctx.position(node), ctx.end_position(node), pure,
                                         "an element of a Python list: rebinding it writes into no tensor" if pure
                                         else "the index has a side effect: not repeated"))
                continue  # a subscript of a tensor stays in place whatever the spelling: IPF006
            fixable = isinstance(node.target, ast.Name) or is_reevaluable_ast(node.target)
            out.append(Candidate(node, ctx.position(node), ctx.end_position(node), fixable,
                                 "" if fixable else "the target has a side effect: not rewritten"))
        return out

    def fix_targets(self, sites: Mapping[str, str]) -> tuple[FixTarget, ...]:
        """The write itself; for an element of a tensor (`t[i] += v`, which has no IPF001 node:
        `t[i] = t[i] + v` would still write into `t`), then IPF006's copy of the tensor."""
        own = FixTarget(self.code, "modified_at", self.title)
        if _subscript_augassign(sites.get("modified_at", "")):
            return (own, FixTarget("IPF006", "modified_at", IndexedAssignment.title))
        return (own,)

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        by_node = {id(c.node): c for c in self.candidates(ctx)}
        for site in ctx.of(ast.AugAssign):
            cand = by_node.get(id(site.node))
            if cand is None or site.scope.quiet:
                continue
            target, value = site.node.target, site.node.value
            if isinstance(target, ast.Subscript):
                if ev.of(value, site.scope).tensor or _list_of_tensors(ctx, ev, target.value.id, site.scope):
                    # `outs[k] += v` on a list of tensors: `outs[k].__iadd__(v)` writes into the element
                    finding = self.finding(ctx, cand, confidence=Confidence.MEDIUM,
                                           note="an element of a Python list of tensors", safety=FixSafety.UNSAFE)
                    findings.append(declined(finding, decline_reason(ctx, ev, site.node, site.scope)))
                continue
            if isinstance(target, ast.Attribute) and target.attr in ("data", "grad"):
                continue  # a write through .data is IPF005's; .grad is not tracked
            if isinstance(target, ast.Name) and fresh_before(ctx, ev, site.node, target.id):
                continue  # `x = torch.zeros(n); x += y`: nothing saved x yet
            if ev.leaf(target, site.scope).tensor:
                continue  # IPF008 owns in-place updates of leaves
            verdict = ev.tracked(target, site.scope, site.node)
            if verdict.tensor is False:
                continue
            if verdict.tensor is None:
                vv = ev.of(value, site.scope)
                if not vv.tensor:
                    continue
                conf, note = Confidence.LOW, f"target type unknown; the value is {vv.note}"
            else:
                conf, note = verdict.confidence, verdict.note
            if isinstance(target, ast.Name) and loop_of(ctx, site.node, target.id) is not None:
                note = (f"{note}; `{target.id}` is a loop variable: `{target.id} = {target.id} + ...` would not "
                        "write back into what it iterates (collect the new rows and torch.stack them)")
                findings.append(self.finding(ctx, cand, confidence=conf, note=note, fixable=False))
                continue
            safe = isinstance(target, ast.Name) and ev.fresh_unaliased(target.id, site.scope)
            finding = self.finding(ctx, cand, confidence=conf, note=note,
                                   safety=FixSafety.SAFE if safe else FixSafety.UNSAFE)
            findings.append(declined(finding, decline_reason(ctx, ev, site.node, site.scope, (target,))))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> cst.CSTNode | None:
        small = updated.body[index]
        if not isinstance(small, cst.AugAssign) or not (is_reevaluable(small.target)
                                                       or _pure_subscript(small.target)):
            return None
        if isinstance(small.target, cst.Name) and any(small.target.value in bound_names(loop.target)
                                                      for loop in getattr(rc, "loops", ())):
            return None  # `row = row + v` in `for row in t:` would not write back into `t`
        op = binary_operator_for(type(small.operator))
        value = parenthesize_operand(small.value, op)
        new = cst.Assign(
            targets=[cst.AssignTarget(
                target=small.target,
                whitespace_before_equal=small.operator.whitespace_before,
                whitespace_after_equal=small.operator.whitespace_after,
            )],
            value=cst.BinaryOperation(left=small.target.deep_clone(), operator=op(), right=value),
            semicolon=small.semicolon,
        )
        body = list(updated.body)
        body[index] = new
        return updated.with_changes(body=body)


def _of_list(ctx: FileContext, site) -> bool:
    """`outs[k] += v` where `outs` is a local Python list (of tensors, or of anything)."""
    target = site.node.target
    return isinstance(target.value, ast.Name) and python_list(ctx, target.value.id, site.scope.func)


def _list_of_tensors(ctx: FileContext, ev, name: str, scope) -> bool:
    """Does some binding of the list `name` put a tensor in it (`[torch.sigmoid(f) for f in fs]`)?"""
    for value in ctx.assignments.get(scope.func, {}).get(name, []):
        elements = [value.elt] if isinstance(value, ast.ListComp) else getattr(value, "elts", [])
        if any(ev.of(e, scope).tensor for e in elements):
            return True
    return False


def _subscript_augassign(code: str) -> bool:
    """Is the runtime's line `x[i] op= v`?"""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return False
    return len(tree.body) == 1 and isinstance(tree.body[0], ast.AugAssign) \
        and isinstance(tree.body[0].target, ast.Subscript)


def _pure_subscript(node: cst.BaseExpression) -> bool:
    """`outs[k]`, `outs[k + 1]`, `outs[i][j]`: evaluating it twice reads the same element."""
    if not isinstance(node, cst.Subscript) or node.lpar:
        return False
    base_ok = is_reevaluable(node.value) or _pure_subscript(node.value)
    return base_ok and all(_pure_cst(el.slice) for el in node.slice)


_PURE_CST = ("Name", "Attribute", "Integer", "Float", "SimpleString", "Ellipsis", "Index", "Slice",
             "BinaryOperation", "UnaryOperation", "Subscript", "SubscriptElement", "Tuple", "Element")


def _pure_cst(node: cst.CSTNode) -> bool:
    """No call, no walrus, no lambda, no await: nothing that could act twice."""
    ok = True

    class _Check(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            nonlocal ok
            if isinstance(n, (cst.BaseExpression, cst.BaseSlice, cst.SubscriptElement)) and \
                    type(n).__name__ not in _PURE_CST:
                ok = False
            return ok

    node.visit(_Check())
    return ok


def is_reevaluable_ast(node: ast.AST) -> bool:
    """A Name or an attribute chain rooted at a Name (no calls, no subscripts)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)
