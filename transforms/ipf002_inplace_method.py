"""IPF002: `x.add_(y)` mutates a tensor in place; `x = x.add(y)` rebinds instead."""

from __future__ import annotations

import ast
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Rule
from inplace_fix.transforms.callfix import rebind, statement_call, targeted_call
from inplace_fix.transforms.common import (
    bound_names, call_form, decline_reason, declined, fresh_before, fresh_name, in_suite, is_chain, is_module_path, loop_of, pure_index, reads_name,
    before_write, cst_reads_name, shares_line, subscript_root_name, with_root, write_into_copy,
)
from inplace_fix.transforms.cstutil import has_comment
from inplace_fix.transforms.cstutil import dotted as cst_dotted
from inplace_fix.transforms.cstutil import is_reevaluable
from inplace_fix.transforms.context import FileContext, dotted
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
    finds: ClassVar[str] = (
        'Calls of in-place Tensor methods, the ones whose name ends in `_` (`x.add_(y)`, `x.clamp_(...)`,'
        ' `x.masked_fill_(...)`, `x.relu_()`, `x.zero_()`), on a tensor that autograd tracks.'
    )
    breaks: ClassVar[str] = (
        "An in-place method writes its result into the receiver's storage and bumps its version counter. "
        'When autograd saved that tensor for backward (the output of sigmoid, tanh, exp, softmax or relu;'
        ' an input of mul or matmul), `backward()` fails with "modified by an inplace operation".'
    )
    doc_example: ClassVar[int] = 2
    explanation: ClassVar[str] = (
        "Methods ending in `_` (`add_`, `clamp_`, `masked_fill_`, `relu_`...) overwrite the tensor's "
        "storage and bump its version counter; if autograd saved that tensor (the output of "
        "sigmoid/tanh/exp/softmax/relu, an input of mul/matmul), backward() fails. The out-of-place twin "
        "computes the same values into a new tensor. Forms: `x.add_(y)` becomes `x = x.add(y)`; "
        "`y = x.relu_()` becomes `x = y = x.relu()` (both names named the mutated tensor, both name "
        "the new one); `return x.relu_()` becomes `return x.relu()` for a local name. A chain "
        "`s.mul_(m).add_(u)` becomes `s = s.mul(m).add(u)`. An in-place chain passed as a whole argument "
        "returns its receiver after changing it, so `num.sub_(den.abs_().add_(1))` becomes `den = "
        "den.abs().add(1)` then `num = num.sub(den)` (later readers of `den` see the update, as before), "
        "only when everything evaluated before it is a name or a constant; so is an in-place chain under other method calls, `scale = s.mul_(0.5).tanh_().mul(a)` becoming `s = s.mul(0.5).tanh()` then `scale = s.mul(a)` (the receiver is evaluated first either way). Part of a tensor, "
        "`out[:, 1:].tanh_()` (slices, integer literals, `...`), becomes `out_new = out.clone(); "
        "out_new[:, 1:] = out[:, 1:].tanh(); out = out_new`: the value reads the original, the write "
        "goes to a copy nothing saved. A loop variable is never rebound (that would not write back): "
        "`for row in t: row.div_(k)` becomes `t = torch.stack([row.div(k) for row in t])` (views of "
        "`t.unbind(d)`: `stack(..., dim=d)`; of `t.chunk`/`t.split`: `cat(..., dim=d)`) when the body is "
        "that one call and it does not read `t`. Refused (flagged, no fix): an in-place call deeper in "
        "an expression or after a value that is not a name (`f(y.clone(), y.mul_(2))`), two writes into "
        "one tensor (`x.add_(x.mul_(2))`), an index that may be a tensor (`x[i].add_(1)`: advanced "
        "indexing copies), other loops (the finding says how to rebuild the tensor); `return self.h.relu_()` (the mutation "
        "outlives the return). Methods with no twin are fixed only where an exact expression exists: "
        "`x.zero_()` -> `x = torch.zeros_like(x)`, `x.fill_(0.5)` -> `x = torch.full_like(x, 0.5)`, "
        "`x.normal_(0, 1)` -> `x = torch.empty_like(x).normal_(0, 1)` (same random draws); `copy_`, "
        "`fill_diagonal_` and `fill_` with a tensor value are flagged only."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "Safe only when the receiver is a local name that every assignment in the function binds to a "
        "new tensor and that is never aliased (see IPF001): then no other reference can observe the "
        "difference between updating in place and rebinding. A parameter, an attribute, a view, or a "
        "name stored in a container or another name may be read later expecting the update; the same "
        "holds for a hoisted receiver (`den`) and for the tensor a loop or a copy rebinds (`t`, `out`). The "
        "no-twin rewrites are always unsafe: `zeros_like`/`full_like`/`empty_like` results do not "
        "require grad, so a loss that depended only on them stops requiring grad. Where a rebinding cannot reach every reader of the old tensor, or a "
        "comment asks to keep the operation, no fix is offered (see IPF001)."
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
        # the in-place chain writes into a fresh copy nothing saved (wolf's first workaround)
        "import torch\n\ndef f(params, alpha):\n    mu, log_scale = params.chunk(2, dim=1)\n"
        "    scale = log_scale.clone().mul_(0.5).tanh_().mul(alpha).add(1.0)\n    return mu * scale\n",
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
        # rows zipped with per-row constants: rebuilt out of place (rebinding `channel` would not write back)
        Example("import torch\n\ndef f(x, means, stds):\n    img = torch.sigmoid(x)\n"
                "    for channel, m, s in zip(img, means, stds):\n        channel.mul_(s).add_(m)\n    return img\n",
                "import torch\n\ndef f(x, means, stds):\n    img = torch.sigmoid(x)\n"
                "    img = torch.stack([channel.mul(s).add(m) for channel, m, s in zip(img, means, stds)])\n"
                "    return img\n", unsafe=True),
        # a loop variable the loop body cannot be rebuilt from: flagged, never rebound
        Example("import torch\n\ndef f(x, means):\n    img = torch.sigmoid(x)\n"
                "    for channel, m in zip(img, means):\n        channel.mul_(m)\n        m += 1\n    return img\n"),
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
        Example("import torch\n\ndef f(a, g):\n    x = torch.tanh(a)\n    return g(x.add_(1))\n",
                "import torch\n\ndef f(a, g):\n    x = torch.tanh(a)\n    x = x.add(1)\n    return g(x)\n"),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x.mul_(2).add_(1)\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = x.mul(2).add(1)\n    return x\n"),
        # nested: the inner chain returns its receiver, so `den` is rebound before the statement
        Example("import torch\n\ndef f(a, b):\n    num = torch.sigmoid(a)\n    den = torch.tanh(b)\n"
                "    num.sub_(den.abs_().add_(1))  # stable\n    return num / den\n",
                "import torch\n\ndef f(a, b):\n    num = torch.sigmoid(a)\n    den = torch.tanh(b)\n"
                "    den = den.abs().add(1)\n    num = num.sub(den)  # stable\n    return num / den\n"),
        Example("import torch\n\ndef f(a, m, u):\n    s = torch.sigmoid(a)\n    y = s.mul_(m).add_(u)\n    return y, s\n",
                "import torch\n\ndef f(a, m, u):\n    s = torch.sigmoid(a)\n    s = y = s.mul(m).add(u)\n    return y, s\n"),
        # an in-place chain under out-of-place calls: it is split off and rebinds its receiver
        # (wolf's affine coupling: `log_scale` is one chunk of the subnet's output)
        Example("import torch\n\ndef f(params, alpha):\n    mu, log_scale = params.chunk(2, dim=1)\n"
                "    scale = log_scale.mul_(0.5).tanh_().mul(alpha).add(1.0)\n    return mu * scale, log_scale\n",
                "import torch\n\ndef f(params, alpha):\n    mu, log_scale = params.chunk(2, dim=1)\n"
                "    log_scale = log_scale.mul(0.5).tanh()\n    scale = log_scale.mul(alpha).add(1.0)\n"
                "    return mu * scale, log_scale\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    x = torch.sigmoid(a)\n    return x.tanh_().mul(x)\n",
                "import torch\n\ndef f(a):\n    x = torch.sigmoid(a)\n    x = x.tanh()\n    return x.mul(x)\n"),
        # refused: the caller's tensor changes, and the return hands back another one
        Example("import torch\n\ndef f(x: torch.Tensor, a):\n    return x.mul_(0.5).tanh_().mul(a)\n", None),
        # refused: an in-place call in an argument of the outer calls
        Example("import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    y = torch.tanh(b)\n"
                "    z = x.tanh_().mul(y.add_(1))\n    return z\n", None),
        # refused: something read before the nested write would now read the new values
        Example("import torch\n\ndef f(a, b):\n    x = torch.tanh(a)\n    y = torch.tanh(b)\n"
                "    x.add_(y.clone(), y.mul_(2))\n    return x\n", None),
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x.add_(x.mul_(2))\n    return x\n", None),
        # part of a tensor: the out-of-place value reads the original, the write goes to a copy
        Example("import torch\n\ndef f(a):\n    out = torch.sigmoid(a)\n    out[:, 1:].tanh_()\n    return out\n",
                "import torch\n\ndef f(a):\n    out = torch.sigmoid(a)\n    out_new = out.clone()\n"
                "    out_new[:, 1:] = out[:, 1:].tanh()\n    out = out_new\n    return out\n", unsafe=True),
        # a loop variable: rebinding it would not write back; the loop is rebuilt out of place
        Example("import torch\n\ndef f(a, k):\n    t = torch.sigmoid(a)\n    for row in t:\n        row.div_(k)\n    return t\n",
                "import torch\n\ndef f(a, k):\n    t = torch.sigmoid(a)\n    t = torch.stack([row.div(k) for row in t])\n"
                "    return t\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    t = torch.sigmoid(a)\n    for c in t.chunk(2, dim=1):\n        c.mul_(2).add_(1)\n"
                "    return t\n",
                "import torch\n\ndef f(a):\n    t = torch.sigmoid(a)\n    t = torch.cat([c.mul(2).add(1) for c in t.chunk(2, dim=1)], dim=1)\n"
                "    return t\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    t = torch.sigmoid(a)\n    for col in t.unbind(1): col.clamp_(max=0.5)\n    return t\n",
                "import torch\n\ndef f(a):\n    t = torch.sigmoid(a)\n    t = torch.stack([col.clamp(max=0.5) for col in t.unbind(1)], dim=1)\n"
                "    return t\n", unsafe=True),
        # declined: the body reads the tensor it rewrites (each row would see the earlier rows' update)
        Example("import torch\n\ndef f(a):\n    t = torch.sigmoid(a)\n    for row in t:\n        row.div_(t.sum())\n    return t\n",
                None),
        Example("import torch\n\ndef f(a, k):\n    t = torch.sigmoid(a)\n    for row in t:\n        row.div_(k)\n"
                "        row.add_(1)\n    return t\n", None),
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
        # a parameter and `add_pos` returns None: the caller sees `x.add_(pos)`; kept, no fix
        Example("import torch\n\ndef add_pos(x: torch.Tensor, pos):\n    x.add_(pos)\n"),
        # torchvision mvit's `_add_shortcut`: its caller ignores the result; kept, no fix
        Example("import torch\n\ndef _add_shortcut(x: torch.Tensor, shortcut: torch.Tensor):\n"
                "    x.add_(shortcut)\n    return x\n\n\ndef block(a, q):\n    x = torch.sigmoid(a)\n"
                "    _add_shortcut(x, q)\n    return x\n"),
        # a global read by `f`: `acc = acc.mul(a)` would make it local (UnboundLocalError); kept, no fix
        Example("import torch\n\nacc = torch.sigmoid(torch.ones(3))\n\ndef f(a):\n    acc.mul_(a)\n"
                "    return a\n"),
        # a closure variable of `f`: the same in `scale`; kept, no fix
        Example("import torch\n\ndef f(a):\n    acc = torch.sigmoid(a)\n\n    def scale(v):\n"
                "        acc.mul_(v)\n        return v\n\n    scale(a)\n    return acc\n"),
        # a list of tensors: `xs_new = xs.clone()` would fail; kept, no fix
        Example("import torch\nimport torch.nn as nn\nfrom typing import List\n\nclass M(nn.Module):\n"
                "    def forward(self, xs: List[torch.Tensor]):\n        xs[0].mul_(2)\n"
                "        return xs\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n"
                "    x.add_(b)  # must be in-place: the hook reads x\n    return x\n"),
    )

    def _fixable(self, ctx: FileContext, site) -> tuple[bool, str]:
        call = site.node
        method = call.func.attr
        kind = method_fix_kind(method, call)
        if kind is None:
            return False, f"`{method}` has no out-of-place expression with the same values"
        if kind != "twin" and ctx.torch_name() is None:
            return False, "the file does not import torch"
        loop = _loop_variable(ctx, site)
        if loop is not None:
            return loop
        form = call_form(site)
        recv = call.func.value
        if form.kind == "nested" or _twin_call(recv) or any(
                _twin_call(n) for a in (*call.args, *(k.value for k in call.keywords)) for n in ast.walk(a)):
            return statement_shape(ctx, site)
        if isinstance(recv, ast.Subscript):
            return _subscript_receiver(form.kind, recv)
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
            finding = self.finding(ctx, cand, confidence=conf, note=note,
                                   safety=FixSafety.SAFE if safe else FixSafety.UNSAFE)
            rebound, where = rebound_targets(ctx, site)
            why = decline_reason(ctx, ev, where, site.scope, rebound) or _split_return_blocker(ctx, site)
            findings.append(declined(finding, why))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> object | None:
        small = updated.body[index]
        found = statement_call(small)
        if found is None or _rebinds_loop_variable(found[1], rc):
            return None
        form, call = found
        if _has_nested(call) or isinstance(_twin_chain(call), cst.Subscript):
            return self._statement(updated, index, small, form, call, rc)
        found = targeted_call(original, updated, index, rc)
        return None if found is None else self._single(updated, index, small, found[0], found[2], rc)

    def fix_compound(self, original: cst.CSTNode, updated: cst.CSTNode, rc) -> cst.CSTNode | None:
        """`for row in t: row.div_(k)` -> `t = torch.stack([row.div(k) for row in t])` (the views
        of `t.unbind(d)`: `stack(..., dim=d)`; of `t.chunk(n, d)`/`t.split(s, d)`: `cat(..., dim=d)`)."""
        shape = _loop_shape(updated)
        torch = rc.torch()
        if shape is None or torch is None:
            return None
        name, join, dim, call = shape
        element = cst.ListComp(elt=_out_of_place(call), for_in=cst.CompFor(
            target=updated.target.deep_clone(), iter=updated.iter.deep_clone()))
        args = [cst.Arg(element)]
        if dim is not None:
            args = [cst.Arg(element, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                    cst.Arg(dim.deep_clone(), keyword=cst.Name("dim"), equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))]
        value = cst.Call(func=cst.Attribute(value=cst.Name(torch), attr=cst.Name(join)), args=args)
        assign = cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=value)
        return cst.SimpleStatementLine(body=[assign], leading_lines=updated.leading_lines)

    def _single(self, updated, index: int, small, form: str, call: cst.Call, rc) -> cst.CSTNode | None:
        """One in-place call that is the statement's value: `x.add_(y)`, `t = x.relu_()`, ..."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        if not _has_nested(call) and _nested_anywhere(call):
            return None  # an in-place call deeper in an argument: evaluation order would change
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

    def _statement(self, updated, index: int, small, form: str, call: cst.Call, rc) -> object | None:
        """The whole statement out of place: nested chains hoisted into rebindings of their names
        (`den = den.abs().add(1)`), then the statement's own chain (`num = num.sub(den)`), or a
        write into a copy when the chain's receiver is part of a tensor (`out[:, 1:].tanh_()`)."""
        hoisted, call = _hoist(call)
        if hoisted is None or (hoisted and not _alone(updated)):
            return None
        chain = _twin_chain(call)
        if chain is None:  # `g(x.add_(1))`: only the hoisting
            new_small = small.with_changes(value=call)
        else:
            root = chain
            if isinstance(root, cst.Subscript):
                return self._into_copy(updated, form, root, call, hoisted, rc)
            new_small = rebind(small, form, root, _out_of_place(call))
            if new_small is None:
                return None
        if not hoisted:
            body = list(updated.body)
            body[index] = new_small
            return updated.with_changes(body=body)
        return before_write(updated, hoisted, updated.with_changes(body=[new_small]))

    def _into_copy(self, updated, form: str, part: cst.Subscript, call: cst.Call, hoisted: list, rc) -> object | None:
        root = subscript_root_name(part)
        if form != "stmt" or root is None or hoisted or not _alone(updated) or not _pure_parts(part):
            return None
        fresh = fresh_name(rc.module_code, root)
        write = cst.Assign(targets=[cst.AssignTarget(target=with_root(part, fresh))], value=_out_of_place(call),
                           semicolon=cst.MaybeSentinel.DEFAULT)
        return write_into_copy(updated, root, fresh, write)


# -- statement shapes: chains, nested calls, parts of a tensor, loop variables (ast side) ---------

def _twin_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in TENSOR_METHOD_TWINS


def chain_root(call: ast.Call) -> ast.AST:
    """`s` of `s.mul_(m).add_(u)`: the receiver under every in-place twin of the chain."""
    node: ast.AST = call
    while _twin_call(node):
        node = node.func.value
    return node


def _written_root(call: ast.Call) -> ast.AST:
    """The tensor an in-place method call writes into: `x` of `x.add_(1)`, `x[:, 1:].tanh_()`,
    `x.mul_(m).add_(u)`; the temporary call itself for `torch.relu(a).add_(1)`."""
    node = call.func.value if isinstance(call.func, ast.Attribute) else call
    while _twin_call(node):
        node = node.func.value
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


def rebound_targets(ctx: FileContext, site) -> tuple[tuple[ast.AST, ...], ast.stmt]:
    """What the rewrite of the statement holding this call rebinds (every receiver of its in-place
    chains, hoisted ones included; for a loop variable, the tensor the loop is rebuilt into), and
    the statement where the new binding happens."""
    root = _written_root(site.node)
    if isinstance(root, ast.Name):
        loop = loop_of(ctx, site.stmt, root.id)
        if loop is not None:
            pieces = loop_pieces(_zipped(loop.target, loop.iter)[1])
            return ((ast.Name(id=pieces[0], ctx=ast.Load()),) if pieces else ()), loop
    out: dict[str, ast.AST] = {}
    top = _top_value(site.stmt)
    calls = [site.node, *(n for n in ast.walk(top) if _twin_call(n))] if top is not None else [site.node]
    for call in calls:
        node = _written_root(call)
        name = dotted(node)
        if name is not None:
            out.setdefault(name, node)
    return tuple(out.values()), site.stmt


def _atomic(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or is_chain(node)


def _top_value(stmt: ast.stmt) -> ast.AST | None:
    if isinstance(stmt, (ast.Expr, ast.Return)) or isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return stmt.value
    return None


def statement_shape(ctx: FileContext, site) -> tuple[bool, str]:
    """Can the statement holding this nested call be rewritten out of place as a whole?

    Yes when its value is one call whose arguments hold the nested in-place chains as whole
    arguments (`num.sub_(den.abs_().add_(1))`, `g(x.add_(1))`) on names, after only names and
    constants (so hoisting `den = den.abs().add(1)` above the statement reorders nothing that
    reads a value), or a chain of in-place twins on one name (`s.mul_(m).add_(u)`), or such a
    chain as the receiver of other method calls (`s.mul_(m).tanh_().mul(a)`, see `_prefix_shape`).
    """
    top = _top_value(site.stmt)
    if not isinstance(top, ast.Call) or shares_line(ctx, site.stmt) or in_suite(ctx, site.stmt):
        return False, "the call is nested in a larger expression"
    if isinstance(site.stmt, ast.Assign) and not is_chain(site.stmt.targets[0]):
        return False, "unpacking target"
    if _twin_call(top) and _twin_call(top.func.value):  # a chain: every link a twin, root a name
        root = chain_root(top)
        link: ast.AST = top
        while _twin_call(link):
            if any(_twin_call(n) for a in (*link.args, *(k.value for k in link.keywords)) for n in ast.walk(a)):
                return False, "an in-place call inside an argument of a chain"
            link = link.func.value
        if not is_chain(root):
            return False, "the chain's receiver is not a name or attribute chain"
        if isinstance(site.stmt, ast.Return) and not isinstance(root, ast.Name):
            return False, "the mutation of an attribute outlives the return"
        return True, ""
    prefix = inplace_prefix(top)
    if prefix is not None:
        return _prefix_shape(ctx, site, top, prefix)
    if _twin_call(top) and not is_chain(top.func.value) or not _twin_call(top) and not is_chain(top.func):
        return False, "the call is nested in a larger expression"
    receiver = dotted(top.func.value) if _twin_call(top) else None
    hoisted: set[str] = set()
    for i, arg in enumerate(top.args):
        if any(_twin_call(n) for n in ast.walk(arg)):
            if not _twin_call(arg) or not is_chain(chain_root(arg)):
                return False, "an in-place call deep inside an argument"
            if not all(_atomic(a) for a in top.args[:i]):
                return False, "an argument evaluated before the in-place call is not a name or constant"
            name = dotted(chain_root(arg))
            if name == receiver or name in hoisted or any(_twin_call(n) for a in arg.args for n in ast.walk(a)):
                return False, "the in-place calls write into the same tensor"
            hoisted.add(name)
    if any(_twin_call(n) for k in top.keywords for n in ast.walk(k.value)):
        return False, "an in-place call inside a keyword argument"
    return True, ""


def inplace_prefix(top: ast.AST) -> ast.Call | None:
    """The in-place chain at the bottom of a chain of other method calls: `x.mul_(m).tanh_()` of
    `x.mul_(m).tanh_().mul(a).add(1)`; None when the top call is in place or holds no such chain."""
    if _twin_call(top):
        return None
    node = top
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not _twin_call(node):
        node = node.func.value
    return node if node is not top and _twin_call(node) else None


def _prefix_shape(ctx: FileContext, site, top: ast.Call, prefix: ast.Call) -> tuple[bool, str]:
    """`s = x.mul_(m).tanh_().mul(a)` splits into `x = x.mul(m).tanh()` and `s = x.mul(a)`: Python
    evaluates the receiver before the calls on it, so the split keeps the order, and every later
    reader of `x` (the arguments of the outer calls included) sees the new values, as before."""
    link: ast.AST = top
    while link is not prefix:
        if any(_twin_call(n) for a in (*link.args, *(k.value for k in link.keywords)) for n in ast.walk(a)):
            return False, "an in-place call inside an argument of a call on the in-place chain's result"
        link = link.func.value
    while _twin_call(link):
        if any(_twin_call(n) for a in (*link.args, *(k.value for k in link.keywords)) for n in ast.walk(a)):
            return False, "an in-place call inside an argument of a chain"
        link = link.func.value
    if not is_chain(link):
        return False, "the in-place chain's receiver is not a name or attribute chain"
    return True, ""


def _split_return_blocker(ctx: FileContext, site) -> str | None:
    """Why `return x.mul_(m).tanh_().mul(a)` on a parameter `x` must not split: the rebinding
    checks take the return being rewritten to hand `x` back, and this one hands back another
    tensor, so the caller would lose the in-place change it sees."""
    top = _top_value(site.stmt)
    prefix = inplace_prefix(top) if isinstance(site.stmt, ast.Return) and top is not None else None
    root = chain_root(prefix) if prefix is not None else None
    func = site.scope.func
    if not isinstance(root, ast.Name) or func is None or not any(p.arg == root.id for p in ctx.params(func)):
        return None
    return (f"`{root.id}` is a parameter and `{func.name}` returns another tensor at line {site.stmt.lineno}: "
            "the caller sees the in-place change; a rebinding would drop it")


def _subscript_receiver(form: str, recv: ast.Subscript) -> tuple[bool, str]:
    """`out[:, 1:].tanh_()` writes into part of `out`: fixable as a write into a copy of `out`."""
    if form != "stmt":
        return False, "the result is a view of the written tensor"
    node: ast.AST = recv
    while isinstance(node, ast.Subscript):
        if not pure_index(node.slice):
            return False, "the index has a side effect"
        if not _basic_index(node.slice):
            return False, "the index may be a tensor (advanced indexing copies: the write may go nowhere)"
        node = node.value
    if not isinstance(node, ast.Name):
        return False, "only a plain name can be copied"
    return True, ""


def _basic_index(index: ast.AST) -> bool:
    """Slices, integer literals, `...` and `None`: an index that makes a view, never a copy."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    for part in parts:
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            part = part.operand
        if isinstance(part, ast.Slice) or isinstance(part, ast.Constant) and (
                part.value is None or part.value is Ellipsis or type(part.value) is int):
            continue
        return False
    return True


def _loop_variable(ctx: FileContext, site) -> tuple[bool, str] | None:
    """For `row.div_(k)` on a loop variable (`row = row.div(k)` would not write back into the
    tensor it iterates): fixable when the loop can be rebuilt out of place, and the rewrite; None
    for other receivers."""
    recv = site.node.func.value
    while _twin_call(recv):
        recv = recv.func.value
    if not isinstance(recv, ast.Name):
        return None
    loop = loop_of(ctx, site.stmt, recv.id)
    if loop is None:
        return None
    shape = loop_rebuild(ctx, loop)
    if shape is not None:
        return True, f"`{recv.id}` iterates a tensor: the loop becomes `{shape}`"
    return False, (f"`{recv.id}` is a loop variable: rebinding it does not write back into what it iterates; "
                   "collect the out-of-place results in a list and rebuild the tensor from it (for "
                   f"`for row in t: row.div_(k)`: `t = torch.stack([row.div(k) for row in t])`)")


# iterables whose elements are views of one tensor, and how the pieces go back together
_PIECES = {"unbind": ("stack", 0), "chunk": ("cat", 1), "split": ("cat", 1), "tensor_split": ("cat", 1)}


def loop_pieces(iterable: ast.AST) -> tuple[str, str, ast.AST | None] | None:
    """(tensor name, `stack`/`cat`, dim node) for `t`, `t.unbind(d)`, `t.chunk(n, d)`, `t.split(s, d)`."""
    if isinstance(iterable, ast.Name):
        return iterable.id, "stack", None
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)
            and isinstance(iterable.func.value, ast.Name) and iterable.func.attr in _PIECES):
        return None
    join, dim_at = _PIECES[iterable.func.attr]
    dim = next((k.value for k in iterable.keywords if k.arg == "dim"), None)
    if dim is None and len(iterable.args) > dim_at:
        dim = iterable.args[dim_at]
    if any(isinstance(a, ast.Starred) for a in iterable.args) or any(k.arg is None for k in iterable.keywords):
        return None
    return iterable.func.value.id, join, dim


def loop_rebuild(ctx: FileContext, loop: ast.For) -> str | None:
    """The out-of-place statement for `for row in t: row.op_(...)` (one in-place twin on the loop
    variable, reading neither the tensor nor anything the loop changes), else None."""
    if loop.orelse or len(loop.body) != 1:
        return None
    var, iterable = _zipped(loop.target, loop.iter)
    pieces = loop_pieces(iterable) if var is not None else None
    stmt = loop.body[0]
    if pieces is None or not isinstance(stmt, ast.Expr) or not _twin_call(stmt.value):
        return None
    name = pieces[0]
    if isinstance(loop.target, ast.Tuple) and name in {e.id for e in loop.target.elts if isinstance(e, ast.Name)}:
        return None
    root = chain_root(stmt.value)
    if not isinstance(root, ast.Name) or root.id != var or reads_name(stmt.value, name) or name == var:
        return None
    torch = ctx.torch_name()
    if torch is None:
        return None
    element = ast.unparse(_out_of_place_ast(stmt.value))
    dim = f", dim={ast.unparse(pieces[2])}" if pieces[2] is not None else ""
    target = (", ".join(ast.unparse(e) for e in loop.target.elts) if isinstance(loop.target, ast.Tuple)
              else ast.unparse(loop.target))
    return f"{name} = {torch}.{pieces[1]}([{element} for {target} in {ast.unparse(loop.iter)}]{dim})"


def _zipped(target: ast.AST, iterable: ast.AST) -> tuple[str | None, ast.AST]:
    """(the loop variable that holds the tensor's rows, what it iterates): `row` and `t` for
    `for row in t`, `channel` and `img` for `for channel, m, s in zip(img, means, stds)`."""
    if isinstance(target, ast.Name):
        return target.id, iterable
    if (isinstance(target, ast.Tuple) and target.elts and all(isinstance(e, ast.Name) for e in target.elts)
            and isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
            and iterable.func.id == "zip" and len(iterable.args) == len(target.elts) and not iterable.keywords
            and not any(isinstance(a, ast.Starred) for a in iterable.args)):
        return target.elts[0].id, iterable.args[0]
    return None, iterable


def _out_of_place_ast(call: ast.Call) -> ast.Call:
    import copy

    new = copy.deepcopy(call)
    node: ast.AST = new
    while _twin_call(node):
        node.func.attr = TENSOR_METHOD_TWINS[node.func.attr]
        node = node.func.value
    return new



# -- statement shapes (libcst side: the same shapes as `statement_shape`) -----------------------

def _is_twin(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
        and node.func.attr.value in TENSOR_METHOD_TWINS


def _twin_chain(node: cst.CSTNode) -> cst.BaseExpression | None:
    """The receiver under a chain of in-place twins (`s` of `s.mul_(m).add_(u)`), when it is a
    name/attribute chain or a pure subscript of a name; None for anything else."""
    if not _is_twin(node):
        return None
    while _is_twin(node):
        node = node.func.value
    if is_reevaluable(node) or isinstance(node, cst.Subscript) and subscript_root_name(node) is not None:
        return node
    return None


def _out_of_place(call: cst.BaseExpression) -> cst.BaseExpression:
    """Every in-place twin of the chain replaced by its out-of-place method."""
    if not _is_twin(call):
        return call
    func = call.func
    return call.with_changes(func=func.with_changes(value=_out_of_place(func.value),
                                                    attr=cst.Name(TENSOR_METHOD_TWINS[func.attr.value])))


def _nested_anywhere(node: cst.CSTNode) -> bool:
    """An in-place twin call inside the arguments of `node`'s calls (not `node` itself)."""
    found = False

    class _Finder(cst.CSTVisitor):
        def visit_Arg(self, arg: cst.Arg) -> bool:
            nonlocal found
            if _contains_twin(arg.value):
                found = True
            return False

    node.visit(_Finder())
    return found


def _contains_twin(node: cst.CSTNode) -> bool:
    found = False

    class _Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            nonlocal found
            found = found or _is_twin(call)

    node.visit(_Finder())
    return found


def _has_nested(call: cst.Call) -> bool:
    """Does the statement's call hold an in-place chain as a whole argument or at the bottom of
    its receiver chain, or is it a chain?"""
    return any(_is_twin(a.value) for a in call.args) or _is_twin(call) and _is_twin(call.func.value) \
        or _cst_prefix(call) is not None


def _cst_prefix(call: cst.BaseExpression) -> cst.Call | None:
    """The libcst side of `inplace_prefix`: `x.mul_(m).tanh_()` of `x.mul_(m).tanh_().mul(a)`."""
    if _is_twin(call):
        return None
    node = call
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and not _is_twin(node):
        node = node.func.value
    return node if node is not call and _is_twin(node) else None


def _on_receiver(call: cst.BaseExpression, prefix: cst.Call, new: cst.BaseExpression) -> cst.BaseExpression:
    """The chain of method calls `call` with its bottom `prefix` replaced by `new`."""
    if call is prefix:
        return new
    return call.with_changes(func=call.func.with_changes(value=_on_receiver(call.func.value, prefix, new)))


def _hoist_prefix(call: cst.Call, prefix: cst.Call) -> tuple[list[cst.Assign] | None, cst.Call]:
    """`x = x.mul(m).tanh()` for the in-place chain under `call`, and `call` on `x` instead."""
    root = _twin_chain(prefix)
    if root is None or not is_reevaluable(root) or _nested_anywhere(call):
        return None, call
    value = _out_of_place(prefix)
    if "\n" in cst.Module(body=[]).code_for_node(value):  # it spanned lines inside the statement's brackets
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    hoisted = cst.Assign(targets=[cst.AssignTarget(target=root.deep_clone())], value=value)
    return [hoisted], _on_receiver(call, prefix, root.deep_clone())


def _atomic_cst(node: cst.BaseExpression) -> bool:
    return is_reevaluable(node) or isinstance(node, (cst.Integer, cst.Float, cst.SimpleString))


def _hoist(call: cst.Call) -> tuple[list[cst.Assign] | None, cst.Call]:
    """Rebindings for the in-place chains passed as whole arguments, and the call reading the
    names instead; (None, call) when an order of evaluation would change (see `statement_shape`)."""
    prefix = _cst_prefix(call)
    if prefix is not None:
        return _hoist_prefix(call, prefix)
    func = call.func
    outer = _twin_chain(call) if _is_twin(call) else None
    if _is_twin(call) and _is_twin(func.value):  # a chain: nothing nested may be hoisted out of it
        link: cst.CSTNode = call
        while _is_twin(link):
            if any(_contains_twin(a.value) for a in link.args):
                return None, call
            link = link.func.value
        return [], call
    if not (is_reevaluable(func) or outer is not None):
        return None, call
    receiver = (cst_dotted(outer) or subscript_root_name(outer)) if outer is not None else None
    hoisted: list[cst.Assign] = []
    names: set[str] = set()
    args = list(call.args)
    for i, arg in enumerate(args):
        if not _contains_twin(arg.value):
            continue
        root = _twin_chain(arg.value)
        if root is None or not is_reevaluable(root) or arg.keyword is not None or arg.star:
            return None, call
        name = cst_dotted(root)
        if name == receiver or name in names or not all(_atomic_cst(a.value) for a in args[:i]) \
                or _nested_anywhere(arg.value):
            return None, call
        names.add(name)
        hoisted.append(cst.Assign(targets=[cst.AssignTarget(target=root.deep_clone())],
                                  value=_out_of_place(arg.value)))
        args[i] = arg.with_changes(value=root.deep_clone())
    return hoisted, call.with_changes(args=args)


def _alone(line: cst.CSTNode) -> bool:
    """A line that holds this one statement (new lines can go above it)."""
    return isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1


def _pure_parts(part: cst.Subscript) -> bool:
    """Slices with pure bounds, integer literals, `...`, `None`: a view (never an advanced-indexing
    copy, into which the original write would have gone nowhere), read twice with no side effect."""
    node: cst.BaseExpression = part
    while isinstance(node, cst.Subscript):
        if not all(_pure_slice(el.slice) and _basic_cst(el.slice) for el in node.slice):
            return False
        node = node.value
    return True


def _basic_cst(part: cst.BaseSlice) -> bool:
    if isinstance(part, cst.Slice):
        return True
    value = part.value
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        value = value.expression
    return isinstance(value, (cst.Integer, cst.Ellipsis)) or isinstance(value, cst.Name) and value.value == "None"


def _pure_slice(node: cst.CSTNode) -> bool:
    ok = True

    class _Check(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> bool:
            nonlocal ok
            ok = False
            return False

        def visit_NamedExpr(self, n: cst.NamedExpr) -> bool:
            nonlocal ok
            ok = False
            return False

    node.visit(_Check())
    return ok


def _loop_shape(loop: cst.For) -> tuple[str, str, cst.BaseExpression | None, cst.Call] | None:
    """(tensor name, `stack`/`cat`, dim, the in-place call) of a loop `fix_compound` rewrites:
    one in-place twin chain on the loop variable, no comment, no `else`, nothing else."""
    var, iterable = _cst_zipped(loop.target, loop.iter)
    if loop.orelse is not None or loop.asynchronous is not None or var is None:
        return None
    body = loop.body
    if isinstance(body, cst.IndentedBlock):
        if len(body.body) != 1 or not isinstance(body.body[0], cst.SimpleStatementLine) \
                or has_comment(body.header, body.footer[0] if body.footer else None, body.body[0]):
            return None
        line = body.body[0]
    else:
        line = body
        if has_comment(line):
            return None
    if len(line.body) != 1 or not isinstance(line.body[0], cst.Expr):
        return None
    call = line.body[0].value
    root = _twin_chain(call)
    pieces = _pieces(iterable)
    if pieces is None or not isinstance(root, cst.Name) or root.value != var:
        return None
    name = pieces[0]
    if name in bound_names(loop.target) or cst_reads_name(call, name):
        return None
    return name, pieces[1], pieces[2], call


def _cst_zipped(target: cst.BaseExpression, iterable: cst.BaseExpression) -> tuple[str | None, cst.BaseExpression]:
    """The libcst side of `_zipped`: the row variable and the tensor expression it iterates."""
    if isinstance(target, cst.Name):
        return target.value, iterable
    if (isinstance(target, cst.Tuple) and target.elements
            and all(isinstance(e.value, cst.Name) for e in target.elements)
            and isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name)
            and iterable.func.value == "zip" and len(iterable.args) == len(target.elements)
            and all(a.keyword is None and not a.star for a in iterable.args)):
        return target.elements[0].value.value, iterable.args[0].value
    return None, iterable


def _pieces(iterable: cst.BaseExpression) -> tuple[str, str, cst.BaseExpression | None] | None:
    """(tensor, join, dim) for `t`, `t.unbind(d)`, `t.chunk(n, d)`, `t.split(s, d)` (see `loop_pieces`)."""
    if isinstance(iterable, cst.Name) and not iterable.lpar:
        return iterable.value, "stack", None
    if not (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)
            and isinstance(iterable.func.value, cst.Name) and iterable.func.attr.value in _PIECES):
        return None
    join, dim_at = _PIECES[iterable.func.attr.value]
    if any(a.star for a in iterable.args):
        return None
    dim = next((a.value for a in iterable.args if a.keyword is not None and a.keyword.value == "dim"), None)
    positional = [a for a in iterable.args if a.keyword is None]
    if dim is None and len(positional) > dim_at:
        dim = positional[dim_at].value
    return iterable.func.value.value, join, dim


def _rebinds_loop_variable(call: cst.Call, rc) -> bool:
    """Is the chain's receiver the target of a `for` around this line? Rebinding it would not
    write back into what it iterates (the loop itself is rewritten, see `fix_compound`)."""
    prefix = call if _is_twin(call) else _cst_prefix(call)
    root = _twin_chain(prefix) if prefix is not None else None
    loops = getattr(rc, "loops", ())
    return isinstance(root, cst.Name) and any(root.value in bound_names(loop.target) for loop in loops)



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
