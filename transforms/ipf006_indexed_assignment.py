"""IPF006: `x[i] = v` writes into `x`; cloning `x` first keeps what autograd saved intact."""

from __future__ import annotations

import ast
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Rule
from inplace_fix.transforms.common import (
    clone_then_write, cst_reads_name, decline_reason, declined, fresh_before, fresh_name, in_suite, shares_line,
    subscript_root_name, with_root, write_into_copy,
)
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.evidence import get_evidence
from inplace_fix.transforms.lazycst import cst


def subscript_root(target: ast.AST) -> ast.AST:
    while isinstance(target, ast.Subscript):
        target = target.value
    return target


def indexed_target(stmt: ast.stmt) -> ast.Subscript | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Subscript):
        return stmt.targets[0]
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript):
        return stmt.target
    return None


def _writes_into(stmt: ast.stmt, name: str) -> bool:
    t = indexed_target(stmt)
    root = subscript_root(t) if t is not None else None
    return isinstance(root, ast.Name) and root.id == name


class IndexedAssignment(Rule):
    code: ClassVar[str] = "IPF006"
    name: ClassVar[str] = "indexed-assignment"
    message: ClassVar[str] = "indexed assignment writes into a tensor in place; clone it first (`x = x.clone()`)"
    title: ClassVar[str] = "clone the tensor before the indexed assignment"
    hand_fix: ClassVar[str] = "insert `x = x.clone()` before the indexed assignment"
    finds: ClassVar[str] = (
        'Indexed and sliced assignments into a tensor that autograd tracks: `x[i] = v`, `x[mask] = v`, '
        '`x[:, 0] = 0`, `x[i] += v`.'
    )
    breaks: ClassVar[str] = (
        'An indexed assignment calls `x.__setitem__`, an in-place copy into the storage of `x` that bumps'
        ' its version counter. If autograd saved `x` (the output of relu, sigmoid or softmax; an input of'
        ' mul or matmul), `backward()` fails with "modified by an inplace operation".'
    )
    explanation: ClassVar[str] = (
        "`x[i] = v`, `x[mask] = v`, `x[:, 0] = 0` and `x[i] += v` call `x.__setitem__`, an in-place copy "
        "into `x`'s storage that bumps its version counter. If autograd saved `x` (the output of "
        "relu/sigmoid/softmax, an input of mul/matmul) backward fails. Inserting `x = x.clone()` right "
        "before the write gives the write its own tensor; autograd's saved one is untouched and the "
        "values that follow are the same. When the value reads the tensor being written "
        "(`z[..., 2:] = z[..., 2:].exp()`, `hs[t] = torch.tanh(hs[t - 1] @ W)`), a clone that both sides "
        "read would be saved by the value's op and then overwritten, so the write goes to a copy instead: "
        "`z_new = z.clone(); z_new[..., 2:] = z[..., 2:].exp(); z = z_new`. A write right after `x` was created by a factory "
        "(`torch.zeros`, `new_zeros`, `.clone()`...) is not flagged: nothing can have saved it yet. "
        "Only a plain name is cloned: for `self.buf[i] = v` the finding has no fix (rebinding an "
        "attribute changes module state)."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "Other references to the same tensor (another name, a view such as `y = x[0]` or "
        "`x.view(...)`, a container, the caller's tensor when `x` is a parameter) saw the write before "
        "and no longer do. Safe only when `x` is a local that every assignment binds to a new tensor "
        "and that is never aliased (see IPF001). Where a rebinding cannot reach every reader of the old tensor, or a "
        "comment asks to keep the operation, no fix is offered (see IPF001)."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "def f(d, k, v):\n    d[k] = v\n    return d\n",
        "import torch.nn as nn\n\nclass T(nn.Module):\n    def forward(self, xs):\n        need = self._needs(xs)\n"
        "        need[0] = True\n        return need\n",
        "def f(n):\n    xs = [0] * n\n    xs[0] = 1\n    return xs\n",
        "import torch\n\ndef f(n):\n    x = torch.zeros(n)\n    x[0] = 1\n    x[1] = 2\n    return x\n",
        "import torch\n\ndef f(a):\n    x = torch.sigmoid(a)\n    x = x.clone()\n    x[0] = 0\n    return x\n",
        "import torch\n\ndef f(a):\n    x = torch.sigmoid(a)\n    with torch.no_grad():\n        x[0] = 0\n",
        "import numpy as np\n\ndef f():\n    a = np.zeros(3)\n    a[0] = 1\n",
        "import torch\n\ndef f(a):\n    x = a.new_zeros(3)\n    x[:, 0] += 1\n    return x\n",
        "import torch\n\nclass M:\n    def reset_parameters(self):\n        w = torch.relu(self.w)\n        w[0] = 1\n",
        "import torch\n\nw = torch.randn(3, requires_grad=True)\nw[0] = 1\n",
        "import torch\n\ndef f(a):\n    x = torch.sigmoid(a)\n    y = x.clone()\n    y[0] = 0\n    return x, y\n",
        # autograd never tracks these: index/coordinate tables built by factories, integer/bool tensors
        "import torch\n\ndef rel_index(win_h: int, win_w: int):\n"
        "    coords = torch.stack(torch.meshgrid(torch.arange(win_h), torch.arange(win_w), indexing='ij'))\n"
        "    coords = torch.flatten(coords, 1)\n    rel = coords[:, :, None] - coords[:, None, :]\n"
        "    rel = rel.permute(1, 2, 0).contiguous()\n    rel[:, :, 0] += win_h - 1\n"
        "    rel[:, :, 0] *= 2 * win_w - 1\n    return rel.sum(-1)\n",
        "import torch\nimport torch.nn as nn\n\nclass A(nn.Module):\n    def index(self):\n"
        "        coords = torch.stack(ndgrid(torch.arange(self.ws[0]), torch.arange(self.ws[1]))).flatten(1)\n"
        "        rel = coords[:, :, None] - coords[:, None, :]\n        rel = rel.permute(1, 2, 0)\n"
        "        rel[:, :, 0] += self.ws[0] - 1\n        self.register_buffer('index', rel.sum(-1))\n",
        "import torch\n\ndef colorwheel(n):\n    wheel = torch.zeros((n, 3))\n    col = 0\n"
        "    wheel[0:n, 0] = 255\n    col += n\n"
        "    wheel[col:col + n, 1] = torch.floor(255 * torch.arange(0, n) / n)\n    return wheel\n",
        "import torch\nimport torch.nn as nn\n\nclass Heads(nn.Module):\n"
        "    def forward(self, gt, idx, matched):\n        labels = gt[idx]\n"
        "        labels = labels.to(dtype=torch.int64)\n        bg = matched < 0\n"
        "        labels[bg] = 0\n        return labels\n",
        "import torch\nimport torch.nn as nn\n\nclass Interp(nn.Module):\n"
        "    def forward(self, x, p):\n        i = torch.bucketize(x, p)\n"
        "        i[i >= p.shape[0]] = p.shape[0] - 1\n        return i\n",
        "import math\nimport torch.nn as nn\n\nclass T(nn.Module):\n    def forward(self, images):\n"
        "        max_size = list(images[0].shape)\n        stride = 32.0\n"
        "        max_size[1] = int(math.ceil(float(max_size[1]) / stride) * stride)\n"
        "        return max_size\n",
        "import torch\n\ndef index3d(self):\n"
        "    coords = [torch.arange(self.window_size[i]) for i in range(3)]\n"
        "    grid = torch.stack(torch.meshgrid(coords[0], coords[1], coords[2], indexing='ij')).flatten(1)\n"
        "    rel = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0)\n"
        "    rel[:, :, 0] += self.window_size[0] - 1\n    return rel.sum(-1)\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\ndef f(a):\n    att = torch.relu(a)\n    att[:, :, :, 0] = 0\n    return att\n",
                "import torch\n\ndef f(a):\n    att = torch.relu(a)\n    att = att.clone()\n    att[:, :, :, 0] = 0\n    return att\n"),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    p[p < 0.5] = 0\n    return p\n",
                "import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    p = p.clone()\n    p[p < 0.5] = 0\n    return p\n"),
        Example("import torch\n\ndef f(a, i):\n    p = torch.sigmoid(a)\n    p[i] += 1\n    return p\n",
                "import torch\n\ndef f(a, i):\n    p = torch.sigmoid(a)\n    p = p.clone()\n    p[i] += 1\n    return p\n"),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    p[0][1] = 2\n    return p\n",
                "import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    p = p.clone()\n    p[0][1] = 2\n    return p\n"),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n\n    # zero the border\n    p[:, 0] = 0  # left\n    return p\n",
                "import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    p = p.clone()\n\n    # zero the border\n    p[:, 0] = 0  # left\n    return p\n"),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n\n    p[:, 0] = 0\n    return p\n",
                "import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n\n    p = p.clone()\n    p[:, 0] = 0\n    return p\n"),
        Example("import torch\n\ndef f(a, W):\n    hs = torch.zeros(4, 3)\n    for t in range(1, 4):\n"
                "        hs[t] = torch.tanh(hs[t - 1] @ W)\n    return hs\n",
                "import torch\n\ndef f(a, W):\n    hs = torch.zeros(4, 3)\n    for t in range(1, 4):\n"
                "        hs_new = hs.clone()\n        hs_new[t] = torch.tanh(hs[t - 1] @ W)\n        hs = hs_new\n"
                "    return hs\n"),
        # the value reads the written tensor: it keeps reading the original, the write goes to a copy
        Example("import torch\n\ndef f(a):\n    z = torch.sigmoid(a)\n    z[..., 2:] = z[..., 2:].exp()  # sizes\n    return z\n",
                "import torch\n\ndef f(a):\n    z = torch.sigmoid(a)\n    z_new = z.clone()\n"
                "    z_new[..., 2:] = z[..., 2:].exp()  # sizes\n    z = z_new\n    return z\n"),
        Example("import torch\n\ndef f(a, z_new):\n    z = torch.sigmoid(a)\n\n    # scale\n    z[:, 1] *= z[:, 0]\n"
                "    return z, z_new\n",
                "import torch\n\ndef f(a, z_new):\n    z = torch.sigmoid(a)\n    z_new2 = z.clone()\n\n    # scale\n"
                "    z_new2[:, 1] *= z[:, 0]\n    z = z_new2\n    return z, z_new\n", unsafe=True),
        Example("import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        x[:, 0] = 0\n        return x\n",
                "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        x = x.clone()\n"
                "        x[:, 0] = 0\n        return x\n", unsafe=True),
        Example("import torch\n\nclass M:\n    def run(self, a):\n        self.h = torch.tanh(a)\n        self.h[0] = 1\n", None),
        Example("import torch\n\nclass Merge(torch.autograd.Function):\n    pass\n\ndef f(x, m):\n    h = Merge.apply(x)\n"
                "    h[m, :] = 1.0\n    return h\n",
                "import torch\n\nclass Merge(torch.autograd.Function):\n    pass\n\ndef f(x, m):\n    h = Merge.apply(x)\n"
                "    h = h.clone()\n    h[m, :] = 1.0\n    return h\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a); p[0] = 0\n    return p\n", None),
        # a factory buffer becomes tracked once a tracked value is written into it
        Example("import torch\n\ndef f(a):\n    buf = torch.zeros(3)\n    k = 1\n    buf[k] = torch.sigmoid(a)\n    return buf * buf\n",
                "import torch\n\ndef f(a):\n    buf = torch.zeros(3)\n    k = 1\n    buf = buf.clone()\n    buf[k] = torch.sigmoid(a)\n"
                "    return buf * buf\n"),
        Example("import torch\n\ndef f(a, c):\n    p = torch.sigmoid(a)\n    if c: p[0] = 0\n    return p\n", None),
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    q = p\n    p[0] = 0\n    return q\n",
                "import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n    q = p\n    p = p.clone()\n    p[0] = 0\n    return q\n",
                unsafe=True),
        # a parameter and `zero_border` returns None: the caller sees the write; kept, no fix
        Example("import torch\n\ndef zero_border(p: torch.Tensor):\n    p[:, 0] = 0\n"),
        # torchvision mvit's `_add_shortcut`: its caller ignores the result; kept, no fix
        Example("import torch\n\ndef _add_shortcut(x: torch.Tensor, shortcut: torch.Tensor):\n"
                "    x[:, 1:] += shortcut[:, 1:]\n    return x\n\n\ndef block(a, q):\n"
                "    x = torch.sigmoid(a)\n    _add_shortcut(x, q)\n    return x\n"),
        # a global: `mask = mask.clone()` would make it local to `f`; kept, no fix
        Example("import torch\n\nmask = torch.sigmoid(torch.ones(3))\n\ndef f(i):\n    mask[i] = 0\n"),
        # torchvision's detection transform: a list of tensors has no `.clone()`; kept, no fix
        Example("import torch.nn as nn\nfrom typing import List\nfrom torch import Tensor\n\n"
                "class Transform(nn.Module):\n    def forward(self, images: List[Tensor]):\n"
                "        images = [img for img in images]\n        for i in range(len(images)):\n"
                "            image = self.normalize(images[i])\n            images[i] = image\n"
                "        return images\n"),
        # HRNet's branches: a `List[Tensor]` parameter; kept, no fix
        Example("import torch\nimport torch.nn as nn\nfrom typing import List\n\n"
                "class Branches(nn.Module):\n"
                "    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:\n"
                "        for i, branch in enumerate(self.branches):\n            x[i] = branch(x[i])\n"
                "        return x\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch\n\ndef f(a):\n    p = torch.sigmoid(a)\n"
                "    p[:, 0] = 0  # do not change: the caller reads p\n    return p\n"),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for kind in (ast.Assign, ast.AugAssign):
            for site in ctx.of(kind):
                stmt = site.node
                target = indexed_target(stmt)
                if target is None:
                    continue
                root = subscript_root(target)
                fixable, why = True, ""
                if not isinstance(root, ast.Name):
                    fixable, why = False, "only a plain name can be cloned"
                elif shares_line(ctx, stmt) or in_suite(ctx, stmt):
                    fixable, why = False, "the statement shares its line"
                out.append(Candidate(stmt, ctx.position(stmt), ctx.end_position(stmt), fixable, why))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        scopes = {id(s.node): s.scope for k in (ast.Assign, ast.AugAssign) for s in ctx.of(k)}
        findings = []
        for cand in self.candidates(ctx):
            scope = scopes[id(cand.node)]
            if scope.quiet:
                continue
            target = indexed_target(cand.node)
            root = subscript_root(target)
            if ev.leaf(root, scope).tensor or ev.leaf(target, scope).tensor:
                continue  # IPF008
            verdict = ev.tracked(root, scope, cand.node)
            if not verdict.tensor:
                continue
            if isinstance(root, ast.Name) and fresh_before(ctx, ev, cand.node, root.id):
                continue
            safe = isinstance(root, ast.Name) and ev.fresh_unaliased(root.id, scope)
            finding = self.finding(ctx, cand, confidence=verdict.confidence, note=verdict.note,
                                   safety=FixSafety.SAFE if safe else FixSafety.UNSAFE)
            rebound = (root,) if isinstance(root, ast.Name) else ()
            findings.append(declined(finding, decline_reason(ctx, ev, cand.node, scope, rebound)))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> object | None:
        if not isinstance(updated, cst.SimpleStatementLine) or len(updated.body) != 1:
            return None
        if not rc.targeted(original.body[index]):
            return None
        small = updated.body[0]
        target = small.target if isinstance(small, cst.AugAssign) else (
            small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else None)
        if not isinstance(target, cst.Subscript):
            return None
        root = subscript_root_name(target)
        if root is None:
            return None
        if not cst_reads_name(small.value, root):
            return clone_then_write(updated, root)
        # the value reads the tensor being written (`z[..., 2:] = z[..., 2:].exp()`): it must keep
        # reading the original, and the write must go to a copy; a clone that both sides read
        # would be saved by the value's op and overwritten by the write (the same error again)
        fresh = fresh_name(rc.module_code, root)
        renamed = with_root(target, fresh)
        if isinstance(small, cst.AugAssign):
            write = small.with_changes(target=renamed)
        else:
            write = small.with_changes(targets=[small.targets[0].with_changes(target=renamed)])
        return write_into_copy(updated, root, fresh, write)
