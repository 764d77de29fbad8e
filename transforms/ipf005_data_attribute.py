"""IPF005: `.data` hides writes from autograd; `.detach()` shares storage but not silence."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, FixTarget, Position, Rule
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.common import declined
from inplace_fix.transforms.evidence import get_evidence
from inplace_fix.transforms.evidence.comments import keep_request
from inplace_fix.transforms.ipf002_inplace_method import InplaceMethod
from inplace_fix.transforms.lazycst import cst


def _is_write(site) -> bool:
    """`p.data = t`, `p.data[i] = v`, `p.data += v`: a write through `.data`."""
    node = site.node
    if isinstance(node.ctx, (ast.Store, ast.Del)):
        return True
    parent = site.parent
    stmt = site.stmt
    if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, (ast.Store, ast.Del)):
        return True
    return isinstance(stmt, ast.AugAssign) and (stmt.target is node or stmt.target is parent)


class DataAttribute(Rule):
    code: ClassVar[str] = "IPF005"
    name: ClassVar[str] = "data-attribute"
    message: ClassVar[str] = "`.data` bypasses autograd's checks; use `.detach()`"
    title: ClassVar[str] = "use .detach() instead of .data so autograd sees the write"
    hand_fix: ClassVar[str] = "use `.detach()` instead of `.data`, or make the operation visible to autograd"
    runtime_kinds: ClassVar[tuple[str, ...]] = ("silent-data-mutation",)
    finds: ClassVar[str] = (
        'Uses of `.data` on a tensor (`h.data`, `h.data.mul_(0.5)`, `p.data = t`). Opt-in under `scan` '
        'and `migrate` (select it with `--select IPF005`).'
    )
    breaks: ClassVar[str] = (
        '`x.data` shares storage with `x` but not its version counter, so autograd cannot see a write '
        'made through it: no error is raised, and the gradients computed from the values it saved are '
        "silently wrong. `x.detach()` shares the version counter, so the same write raises torch's error "
        'instead.'
    )
    doc_example: ClassVar[int] = 1
    explanation: ClassVar[str] = (
        "`x.data` shares storage with `x` but not its version counter, so an in-place write through it "
        "(`h.data.mul_(0.5)`) corrupts values autograd saved and backward computes wrong gradients "
        "without any error. `x.detach()` shares storage and the version counter: the same values, but a "
        "harmful write now raises torch's error instead of silently corrupting gradients. Reads are "
        "rewritten; writes (`p.data = t`, `p.data[i] = v`, `p.data += v`) are flagged only, because "
        "`.data` assignment has no `.detach()` equivalent and is often deliberate (weight clipping, "
        "straight-through estimators). Only receivers with tensor evidence are considered: "
        "`torch.utils.data`, `from x.data import ...`, `self.data` and untyped objects are never "
        "touched. Opt-in under bulk `scan`/`migrate`."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    unsafe_when: ClassVar[str] = (
        "Forward values never change, but code that relied on `.data` to mutate a saved tensor or a "
        "leaf silently (an intentional straight-through trick, in-place clipping of a parameter that a "
        "pending backward still needs) now raises torch's in-place error, and `.detach()` on a leaf "
        "used with in-place ops outside no_grad bumps its version. Always needs --unsafe-fixes."
    )
    bulk_default: ClassVar[bool] = False
    expr_nodes: ClassVar[tuple[str, ...]] = ("Attribute",)
    valid: ClassVar[tuple[str, ...]] = (
        "import torch.utils.data\n\nloader = torch.utils.data.DataLoader([])\n",
        "from torch.utils.data import DataLoader\nfrom mypkg.data import load\n",
        "class DS:\n    def __getitem__(self, i):\n        return self.data[i]\n",
        "def f(batch):\n    return batch.data\n",
        "import torch\n\ndef f(model):\n    with torch.no_grad():\n        for p in model.parameters():\n"
        "            p.data.clamp_(-0.01, 0.01)\n",
        "import torch\n\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n        for p in self.params:\n"
        "            p.data.add_(p.grad, alpha=-0.1)\n",
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def _init_weights(self, m):\n"
        "        m.weight.data.normal_(0, 0.02)\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    return x.detach()\n",
        "import torch\n\ndef f(resp):\n    d = resp.json()\n    return d.data\n",
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    return x.grad.data\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    h.data.mul_(0.5)\n    return h\n",
                "import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    h.detach().mul_(0.5)\n    return h\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    v = h.data\n    return v\n",
                "import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    v = h.detach()\n    return v\n", unsafe=True),
        Example("import torch\n\ndef f(model, D):\n    for p in D.parameters():\n        p.data.add_(-0.5 * p.grad)\n",
                "import torch\n\ndef f(model, D):\n    for p in D.parameters():\n        p.detach().add_(-0.5 * p.grad)\n",
                unsafe=True),
        Example("import torch\n\ndef f(a, t):\n    h = torch.tanh(a)\n    h.data = t\n    return h\n", None),
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    h.data[0] = 1.0\n    return h\n", None),
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    h.data += 1.0\n    return h\n", None),
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    return h.data.numpy()  # to numpy\n",
                "import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    return h.detach().numpy()  # to numpy\n", unsafe=True),
        Example("import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        return self.fc.weight.data * x\n",
                "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        return self.fc.weight.detach() * x\n", unsafe=True),
        Example("import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    print(h.data, 'é', h.data)\n",
                "import torch\n\ndef f(a):\n    h = torch.tanh(a)\n    print(h.detach(), 'é', h.detach())\n", unsafe=True),
        Example("import torch\nfrom torch import Tensor\n\ndef f(x: Tensor):\n    return (x.data ** 2).sum()\n",
                "import torch\nfrom torch import Tensor\n\ndef f(x: Tensor):\n    return (x.detach() ** 2).sum()\n",
                unsafe=True),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for site in ctx.of(ast.Attribute):
            node = site.node
            value = node.value
            if isinstance(value, ast.Name) and (value.id == "self" or value.id in ctx.aliases):
                continue  # self.data (datasets), torch.data-like module attributes
            head = value
            while isinstance(head, ast.Attribute):
                head = head.value
            if isinstance(head, ast.Name) and head.id in ctx.aliases and isinstance(value, ast.Attribute):
                q = ctx.qualname(value) or ""
                if not q.startswith("torch.") or q.startswith("torch.utils"):
                    continue  # a module path such as torch.utils.data or pkg.data
                if q.count(".") and q.split(".")[1][:1].islower() and q.split(".")[1] in ("utils", "nn", "distributed"):
                    continue
            write = _is_write(site)
            out.append(Candidate(node, ctx.position(node), ctx.end_position(node), not write,
                                 "a write through .data: flagged only" if write else ""))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        for cand in self.candidates(ctx):
            site = ctx.site_of(cand.node)
            if site.scope.quiet:
                continue
            value = cand.node.value
            if isinstance(value, ast.Attribute) and value.attr == "grad":
                continue  # .grad.data: gradients are not tracked
            verdict = ev.of(value, site.scope)
            if not verdict.tensor:
                leaf = ev.leaf(value, site.scope)
                if not leaf.tensor:
                    continue
                verdict = leaf
            message = None if cand.fixable else "write through `.data` hides the mutation from autograd"
            finding = self.finding(ctx, cand, confidence=verdict.confidence, note=verdict.note, message=message)
            findings.append(declined(finding, keep_request(ctx, site.stmt)))
        return findings

    def relocate(self, ctx: FileContext, line: int, col: int | None) -> Position | None:
        """The runtime reports the write (`act.clamp_(...)`); the fix belongs where the alias
        was read (`act = h.data`): the last `.data` read assigned to a name written on `line`."""
        written: set[str] = set()
        for site in ctx.of(ast.Call):
            f = site.node.func
            if site.node.lineno == line and isinstance(f, ast.Attribute) and f.attr.endswith("_") \
                    and isinstance(f.value, ast.Name):
                written.add(f.value.id)
        for kind in (ast.AugAssign, ast.Assign):
            for site in ctx.of(kind):
                node = site.node
                if node.lineno != line:
                    continue
                target = node.target if kind is ast.AugAssign else node.targets[0]
                while isinstance(target, ast.Subscript):
                    target = target.value
                if isinstance(target, ast.Name):
                    written.add(target.id)
        best: ast.Attribute | None = None
        for site in ctx.of(ast.Attribute):
            stmt = site.stmt
            if not (isinstance(stmt, ast.Assign) and stmt.lineno < line and stmt.value is site.node):
                continue
            names = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
            if names & written and (best is None or site.node.lineno > best.lineno):
                best = site.node
        return ctx.position(best) if best is not None else None

    # `h.data.mul_(0.5)` as a statement: the write itself can become visible, `h = h.mul(0.5)`
    # (IPF002's rewrite; verified by the float64 finite-difference check)
    DATA_WRITE_STATEMENT: ClassVar[re.Pattern[str]] = re.compile(r"^\s*[A-Za-z_][\w.]*\.data\.\w+_\(")
    VISIBLE_TITLE: ClassVar[str] = (
        "make the `.data` write visible to autograd: rebind the name to the out-of-place result")
    _RECEIVER: ClassVar[re.Pattern[str]] = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(\.|\[|[-+*/@]?=)")
    _ALIAS_SEARCH_LINES: ClassVar[int] = 50

    def fix_targets(self, sites: Mapping[str, str]) -> tuple[FixTarget, ...]:
        """The `.data` read the runtime traced (`alias_at`, `data_at`) when it names one; a
        `.data` write statement is handed to IPF002 so autograd sees the write; else the write."""
        for key in ("alias_at", "data_at"):
            if key in sites:
                return (FixTarget(self.code, key, self.title),)
        if self.DATA_WRITE_STATEMENT.match(sites.get("modified_at") or ""):
            return (FixTarget(InplaceMethod.code, "modified_at", self.VISIBLE_TITLE),)
        return (FixTarget(self.code, "modified_at", self.title),)

    def alias_line(self, source: str, line: int, code: str) -> int | None:
        """For a write through an alias (`act = h.data` ... `act.clamp_()`): the `.data` that made it.

        The alias was created earlier, by the nearest assignment to the written name that
        reads `.data`, in the lines above (same function).
        """
        match = self._RECEIVER.match(code or "")
        if not match:
            return None
        creates = re.compile(rf"^\s*{re.escape(match.group('name'))}\s*=.*\.data\b")
        lines = source.splitlines()
        for number in range(line - 1, max(0, line - 1 - self._ALIAS_SEARCH_LINES), -1):
            if number > len(lines):
                continue  # a stale line number past the end of the file
            text = lines[number - 1]
            if re.match(r"\s*(async\s+)?def\s", text):
                return None
            if creates.match(text):
                return number
        return None

    def fix_expr(self, original: cst.CSTNode, updated: cst.CSTNode, rc) -> cst.CSTNode | None:
        if not isinstance(updated, cst.Attribute) or updated.attr.value != "data" or rc.is_store(original):
            return None
        return cst.Call(
            func=cst.Attribute(value=updated.value, dot=updated.dot, attr=cst.Name("detach")),
            lpar=updated.lpar, rpar=updated.rpar,
        )
