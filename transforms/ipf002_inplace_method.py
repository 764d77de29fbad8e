"""IPF002: `x.add_(y)` mutates a tensor in place; `x = x.add(y)` rebinds instead."""

from __future__ import annotations

import ast
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Rule
from inplace_fix.transforms.callfix import rebind, targeted_call
from inplace_fix.transforms.common import call_form, fresh_before, is_chain, is_module_path
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.data.inplace_tables import RNG_FILL_METHODS, TENSOR_METHOD_TWINS, TENSOR_METHODS_NO_TWIN
from inplace_fix.transforms.evidence import Confidence, get_evidence
from inplace_fix.transforms.lazycst import cst

_NO_TWIN = frozenset(TENSOR_METHODS_NO_TWIN)
_RNG = frozenset(RNG_FILL_METHODS)


def _numeric_literal_ast(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, bool)


def _numeric_literal_cst(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float)) or isinstance(node, cst.Name) and node.value in ("True", "False")


def method_fix_kind(method: str, call: ast.Call) -> str | None:
    """How a method is rewritten: twin, zeros, full, rng; None: no exact expression."""
    if method in TENSOR_METHOD_TWINS:
        return "twin"
    if method == "zero_" and not call.args and not call.keywords:
        return "zeros"
    if method == "fill_" and len(call.args) == 1 and not call.keywords and _numeric_literal_ast(call.args[0]):
        return "full"
    if method in _RNG:
        return "rng"
    return None


class InplaceMethod(Rule):
    code: ClassVar[str] = "IPF002"
    name: ClassVar[str] = "inplace-method"
    message: ClassVar[str] = "in-place Tensor method; rebind with its out-of-place twin (`x = x.add(y)`)"
    title: ClassVar[str] = "call the out-of-place Tensor method and rebind the name"
    hand_fix: ClassVar[str] = "write `x = x.op(...)` instead of `x.op_(...)`"
    explanation: ClassVar[str] = (
        "Methods ending in `_` (`add_`, `clamp_`, `masked_fill_`, `relu_`...) overwrite the tensor's "
        "storage and bump its version counter; if autograd saved that tensor (the output of "
        "sigmoid/tanh/exp/softmax/relu, an input of mul/matmul), backward() fails. The out-of-place twin "
        "computes the same values into a new tensor. Forms: `x.add_(y)` becomes `x = x.add(y)`; "
        "`y = x.relu_()` becomes `x = y = x.relu()` (both names named the mutated tensor, both name "
        "the new one); `return x.relu_()` becomes `return x.relu()` for a local name. Refused (flagged, "
        "no fix): a call nested in a larger expression (`f(x.add_(1))`, `x.mul_(2).add_(1)`), since "
        "hoisting it would reorder evaluation; a receiver that is not a name or attribute chain "
        "(`x[0].add_(1)` writes through a view; see IPF006); `return self.h.relu_()` (the mutation "
        "outlives the return). Methods with no twin are fixed only where an exact expression exists: "
        "`x.zero_()` -> `x = torch.zeros_like(x)`, `x.fill_(0.5)` -> `x = torch.full_like(x, 0.5)`, "
        "`x.normal_(0, 1)` -> `x = torch.empty_like(x).normal_(0, 1)` (same random draws); `copy_`, "
        "`fill_diagonal_` and `fill_` with a tensor value are flagged only."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    unsafe_when: ClassVar[str] = (
        "Safe only when the receiver is a local name that every assignment in the function binds to a "
        "new tensor and that is never aliased (see IPF001): then no other reference can observe the "
        "difference between updating in place and rebinding. A parameter, an attribute, a view, or a "
        "name stored in a container or another name may be read later expecting the update. The "
        "no-twin rewrites are always unsafe: `zeros_like`/`full_like`/`empty_like` results do not "
        "require grad, so a loss that depended only on them stops requiring grad."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "def f(xs):\n    xs.sort()\n    return xs\n",
        "def f(a, b):\n    a.extend(b)\n    return a\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    with torch.no_grad():\n        x.clamp_(0, 1)\n",
        "import torch\n\nclass Adam(torch.optim.Optimizer):\n    def step(self):\n"
        "        for p in self.params:\n            buf = torch.zeros_like(p)\n            buf.mul_(0.9).add_(p.grad)\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    x = x.add(1)\n    return x\n",
        "import torch\n\ndef f(a):\n    noise = torch.empty_like(a).normal_(0, 1)\n    return a + noise\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    x.grad.zero_()\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    x.data.mul_(0.5)\n",
        "import numpy as np\n\ndef f():\n    a = np.zeros(3)\n    a.clip_(0, 1)\n",
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.w = nn.Parameter(torch.zeros(3))\n        self.w.normal_()\n",
        "import torch\n\ndef trunc_normal_(t, a, b):\n    t.uniform_(a, b)\n    return t\n",
        "import torch\n\nw = torch.randn(3, requires_grad=True)\nw.add_(1)\n",
        "import torch\n\ndef mix(x, lam):\n    x_flipped = x.flip(0).mul_(1.0 - lam)\n    return x_flipped\n",
        "import torch\n\ndef f(n, t):\n    y = torch.full((n, 3), 0.1)\n    y.scatter_(1, t, 0.9)\n    return y\n",
        "import torch\n\ndef swish(x, inplace=False):\n    return x.mul_(x.sigmoid()) if inplace else x.mul(x.sigmoid())\n",
        "import torch.nn as nn\n\nclass Norm(nn.Module):\n    def forward(self, x):\n"
        "        self.running_var.copy_(x.var(0))\n        return x\n",
        "import torch\n\ndef f(a, b):\n    return (a - b).abs_().max()\n",
        "import torch\n\ndef f(a: torch.Tensor):\n    idx = a.argsort(-1)\n    y = a * 2\n"
        "    idx.clamp_(max=3)\n    return idx, y\n",  # an integer tensor never requires grad
        "import torch.nn as nn\n\nclass Block(nn.Module):\n    def fuse(self):\n        k = self.conv.weight * 2\n"
        "        k.add_(self.bn.bias)\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    x.add_(b)\n    return x\n",
                "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    x = x.add(b)\n    return x\n"),
        Example("import torch\n\ndef f(a):\n    p = torch.softmax(a, -1)\n    p.clamp_(min=1e-6)\n    return p\n",
                "import torch\n\ndef f(a):\n    p = torch.softmax(a, -1)\n    p = p.clamp(min=1e-6)\n    return p\n"),
        Example("import torch\n\ndef f(a, pad):\n    attn = torch.softmax(a, -1)\n    attn.masked_fill_(pad, 0.0)\n"
                "    return attn\n",
                "import torch\n\ndef f(a, pad):\n    attn = torch.softmax(a, -1)\n    attn = attn.masked_fill(pad, 0.0)\n"
                "    return attn\n"),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    y = x.relu_()\n    return y\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = y = x.relu()\n    return y\n"),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = x.relu_()\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = x.relu()\n    return x\n"),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    return x.relu_()\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    return x.relu()\n"),
        Example("import torch\n\ndef f(a, g):\n    x = torch.tanh(a)\n    return g(x.add_(1))\n", None),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x.mul_(2).add_(1)\n    return x\n", None),
        Example("import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x.zero_()\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x = torch.zeros_like(x)\n    return x\n",
                unsafe=True),
        Example("import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x.fill_(-1.5)\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x = torch.full_like(x, -1.5)\n    return x\n",
                unsafe=True),
        Example("import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x.normal_(0, 0.02)\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.exp(a)\n    x = torch.empty_like(x).normal_(0, 0.02)\n    return x\n",
                unsafe=True),
        Example("import torch\n\ndef f(a, b):\n    x = torch.exp(a)\n    x.copy_(b)\n    return x\n", None),
        Example("import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        h = self.fc(x)\n        h.mul_(self.scale)  # scale\n        return h\n",
                "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        h = self.fc(x)\n        h = h.mul(self.scale)  # scale\n        return h\n",
                unsafe=True),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x.clamp_(\n        min=0,  # floor\n"
                "        max=1,\n    )\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = x.clamp(\n        min=0,  # floor\n"
                "        max=1,\n    )\n    return x\n"),
        Example("import torch\n\ndef f(a, i):\n    x = torch.tanh(a)\n    x[i].add_(1)\n    return x\n", None),
        Example("import torch\n\ndef f(a):\n    y = torch.sigmoid(a).mul_(2)\n    return y\n", None),
        Example("import torch\n\ndef f(a):\n    y = a.exp().view(-1).add_(1)\n    return y\n", None),
        Example("import torch\nfrom torch import Tensor\n\ndef f(x: Tensor) -> Tensor:\n    x.sigmoid_()\n    return x\n",
                "import torch\nfrom torch import Tensor\n\ndef f(x: Tensor) -> Tensor:\n    x = x.sigmoid()\n    return x\n",
                unsafe=True),
    )

    def _fixable(self, ctx: FileContext, site) -> tuple[bool, str]:
        call = site.node
        method = call.func.attr
        kind = method_fix_kind(method, call)
        if kind is None:
            return False, f"`{method}` has no out-of-place expression with the same values"
        if kind != "twin" and ctx.torch_name() is None:
            return False, "the file does not import torch"
        form = call_form(site)
        recv = call.func.value
        if form.kind == "nested":
            return False, "the call is nested in a larger expression"
        if not is_chain(recv):
            return False, "the receiver is not a name or attribute chain"
        if form.kind == "return" and not isinstance(recv, ast.Name):
            return False, "the mutation of an attribute outlives the return"
        if form.kind == "assign" and isinstance(form.target, (ast.Tuple, ast.List, ast.Starred)):
            return False, "unpacking target"
        return True, ""

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for site in ctx.of(ast.Call):
            func = site.node.func
            if not isinstance(func, ast.Attribute):
                continue
            if func.attr not in TENSOR_METHOD_TWINS and func.attr not in _NO_TWIN:
                continue
            if is_module_path(ctx, func.value):
                continue  # torch.relu_(x), F.relu_(x): IPF003
            fixable, why = self._fixable(ctx, site)
            out.append(Candidate(site.node, ctx.position(site.node), ctx.end_position(site.node), fixable, why))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        for cand in self.candidates(ctx):
            site = ctx.site_of(cand.node)
            if site.scope.quiet:
                continue
            recv = cand.node.func.value
            if isinstance(recv, ast.Attribute) and recv.attr in ("data", "grad"):
                continue  # .data: IPF005; .grad is not tracked
            if isinstance(recv, (ast.BinOp, ast.UnaryOp)):
                continue  # `(1 - s).mul_(v)`: arithmetic never saves its own result
            if isinstance(recv, ast.Call):
                saved = _saved_temporary(ctx, recv)
                if saved is None:
                    continue  # a temporary nothing saved (`x.flip(0).mul_(a)`): harmless
                recv_note = saved
            else:
                recv_note = ""
            if isinstance(recv, ast.Name) and fresh_before(ctx, ev, site.stmt, recv.id):
                continue
            if ev.leaf(recv, site.scope).tensor:
                continue  # IPF008
            verdict = ev.tracked(recv, site.scope, site.stmt)
            if verdict.tensor is False:
                continue
            if recv_note:
                conf, note = Confidence.MEDIUM, recv_note
            elif verdict.tensor is None:
                if isinstance(recv, ast.Attribute):
                    continue  # module state (buffers, caches) of unknown type: deliberate updates
                conf, note = Confidence.LOW, f"receiver type unknown; `{cand.node.func.attr}` is a Tensor method"
            else:
                conf, note = verdict.confidence, verdict.note
            kind = method_fix_kind(cand.node.func.attr, cand.node)
            safe = kind == "twin" and isinstance(recv, ast.Name) and ev.fresh_unaliased(recv.id, site.scope)
            findings.append(self.finding(ctx, cand, confidence=conf, note=note,
                                         safety=FixSafety.SAFE if safe else FixSafety.UNSAFE))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> cst.CSTNode | None:
        small = updated.body[index]
        found = targeted_call(original, updated, index, rc)
        if found is None:
            return None
        form, _, call = found
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        recv = func.value
        if isinstance(recv, cst.Attribute) and recv.attr.value == "data":
            # only the runtime targets `h.data.mul_(0.5)` (find() leaves .data to IPF005): make the
            # write visible, `h = h.mul(0.5)`; the fixer proves it with the finite-difference check
            recv = recv.value
            call = call.with_changes(func=func.with_changes(value=recv))
        new_call = _replacement(call, method, recv, rc)
        if new_call is None:
            return None
        new_small = rebind(small, form, recv, new_call)
        if new_small is None:
            return None
        body = list(updated.body)
        body[index] = new_small
        return updated.with_changes(body=body)


def _replacement(call: cst.Call, method: str, recv: cst.BaseExpression, rc) -> cst.Call | None:
    if method in TENSOR_METHOD_TWINS:
        return call.with_changes(func=call.func.with_changes(attr=cst.Name(TENSOR_METHOD_TWINS[method])))
    torch = rc.torch()
    if torch is None:
        return None
    if method == "zero_" and not call.args:
        return cst.Call(func=cst.parse_expression(f"{torch}.zeros_like"), args=[cst.Arg(recv.deep_clone())])
    if method == "fill_" and len(call.args) == 1 and call.args[0].keyword is None \
            and _numeric_literal_cst(call.args[0].value):
        return cst.Call(func=cst.parse_expression(f"{torch}.full_like"),
                        args=[cst.Arg(recv.deep_clone(), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                              cst.Arg(call.args[0].value)])
    if method in _RNG:
        fresh = cst.Call(func=cst.parse_expression(f"{torch}.empty_like"), args=[cst.Arg(recv.deep_clone())])
        return call.with_changes(func=call.func.with_changes(value=fresh))
    return None


# Ops whose backward reads their own output: writing into that output breaks backward.
OUTPUT_SAVERS = frozenset({
    "relu", "sigmoid", "tanh", "exp", "exp2", "expm1", "softmax", "log_softmax", "sqrt", "rsqrt",
    "reciprocal", "elu", "celu", "selu", "relu6", "hardtanh", "threshold", "pow", "erfinv", "logit",
})


def _saved_temporary(ctx: FileContext, recv: ast.Call) -> str | None:
    """Why an in-place op on the temporary `recv` is harmful, or None when it is harmless.

    In-place ops and views return (a view of) their receiver: look through them to the
    tensor actually written. A fresh result is harmful only when its producer saved it.
    """
    from inplace_fix.transforms.evidence import ALIASING_METHODS

    node: ast.AST = recv
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not is_module_path(
            ctx, node.func.value) and (node.func.attr.endswith("_") or node.func.attr in ALIASING_METHODS):
        node = node.func.value
    if not isinstance(node, ast.Call):
        return None  # the chain writes into a named tensor: the named receiver is judged on its own site
    q = ctx.qualname(node.func) or ""
    name = q.rsplit(".", 1)[-1] if q else (node.func.attr if isinstance(node.func, ast.Attribute) else "")
    if name in OUTPUT_SAVERS:
        return f"output of {name}(), which autograd saves"
    return None
