"""IPF003: `torch.relu_(x)` / `F.relu_(x)` mutate `x`; `x = torch.relu(x)` rebinds instead."""

from __future__ import annotations

import ast
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Rule
from inplace_fix.transforms.callfix import rebind, targeted_call
from inplace_fix.transforms.common import call_form, decline_reason, declined, is_chain
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.data.inplace_tables import FUNCTIONAL_TWINS, TORCH_FUNCTION_TWINS
from inplace_fix.transforms.evidence import Confidence, get_evidence
from inplace_fix.transforms.lazycst import cst


def twin_of(qualname: str | None) -> str | None:
    """Out-of-place twin name for `torch.X_` / `torch.nn.functional.X_`, else None."""
    if not qualname:
        return None
    module, _, name = qualname.rpartition(".")
    if module == "torch":
        return TORCH_FUNCTION_TWINS.get(name)
    if module == "torch.nn.functional":
        return FUNCTIONAL_TWINS.get(name)
    return None


class InplaceFunction(Rule):
    code: ClassVar[str] = "IPF003"
    name: ClassVar[str] = "inplace-function"
    message: ClassVar[str] = "in-place torch function; rebind with its out-of-place twin (`x = torch.relu(x)`)"
    title: ClassVar[str] = "call the out-of-place torch function and rebind the name"
    hand_fix: ClassVar[str] = "call the out-of-place function (`torch.relu(x)` instead of `torch.relu_(x)`)"
    finds: ClassVar[str] = (
        'Calls of in-place torch functions (`torch.relu_(x)`, `torch.sigmoid_(x)`, `torch.clamp_(x, '
        '...)`, `F.relu_(x)`, `F.leaky_relu_(x)`) whose first argument is a tensor that autograd tracks.'
    )
    breaks: ClassVar[str] = (
        'These functions overwrite their first argument and bump its version counter, so an earlier '
        'operation that saved that tensor for backward finds it changed and `backward()` fails with '
        '"modified by an inplace operation".'
    )
    explanation: ClassVar[str] = (
        "`torch.relu_(x)`, `torch.sigmoid_(x)`, `F.relu_(x)`, `F.leaky_relu_(x)`... overwrite their first "
        "argument and bump its version counter, so an op that saved `x` for backward fails with "
        "'modified by an inplace operation'. The twin without the underscore computes the same values "
        "into a new tensor. `torch.relu_(x)` becomes `x = torch.relu(x)`, `y = F.relu_(x)` becomes "
        "`x = y = F.relu(x)`, `return torch.relu_(x)` becomes `return torch.relu(x)` for a local name. "
        "Refused (flagged, no fix): calls nested in larger expressions (hoisting reorders evaluation), "
        "a first argument that is not a name or attribute chain, a function imported bare "
        "(`from torch import relu_`: its twin is not imported)."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "Safe only when the mutated argument is a local name that every assignment binds to a new "
        "tensor and that is never aliased (see IPF001); otherwise another reference (a parameter's "
        "caller, an attribute, a container, a view) stops seeing the update. Where a rebinding cannot reach every reader of the old tensor, or a "
        "comment asks to keep the operation, no fix is offered (see IPF001)."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "import torch\n\ndef f(a):\n    x = torch.relu(a)\n    return x\n",
        "import torch\n\ndef f(a):\n    with torch.no_grad():\n        torch.relu_(a)\n",
        "import torch\n\n@torch.inference_mode()\ndef f(a):\n    torch.sigmoid_(a)\n",
        "import torch.nn.functional as F\n\ndef f(a):\n    return F.relu(a)\n",
        "import torch\n\ndef relu_(x):\n    return torch.relu_(x)\n",
        "def f(m, x):\n    m.relu_(x)\n",
        "import torch\n\nw = torch.randn(3, requires_grad=True)\ntorch.sigmoid_(w)\n",
        "import torch\n\ndef f(a):\n    torch.manual_seed(0)\n    return a\n",
        "import torch\n\ndef f(a):\n    x = torch.zeros_like(a)\n    x = torch.tanh(x)\n    return x\n",
        "import torch\nimport torch.nn.functional as F\n\ndef f(a):\n    y = F.relu(a, inplace=False)\n    return y\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    torch.relu_(x)\n    return x\n",
                "import torch\n\ndef f(a):\n    x = torch.tanh(a)\n    x = torch.relu(x)\n    return x\n"),
        Example("import torch\nimport torch.nn.functional as F\n\ndef f(a):\n    x = torch.exp(a)\n    F.relu_(x)\n"
                "    return x\n",
                "import torch\nimport torch.nn.functional as F\n\ndef f(a):\n    x = torch.exp(a)\n    x = F.relu(x)\n"
                "    return x\n"),
        Example("import torch\n\ndef f(a):\n    x = a * 3\n    torch.sigmoid_(x)\n    return x\n",
                "import torch\n\ndef f(a):\n    x = a * 3\n    x = torch.sigmoid(x)\n    return x\n"),
        Example("import torch\nfrom torch.nn import functional as F\n\ndef f(a):\n    x = a * 3\n"
                "    y = F.leaky_relu_(x, 0.2)\n    return y\n",
                "import torch\nfrom torch.nn import functional as F\n\ndef f(a):\n    x = a * 3\n"
                "    x = y = F.leaky_relu(x, 0.2)\n    return y\n"),
        Example("import torch\n\ndef f(a):\n    x = a * 3\n    return torch.tanh_(x)\n",
                "import torch\n\ndef f(a):\n    x = a * 3\n    return torch.tanh(x)\n"),
        Example("import torch as th\n\ndef f(a):\n    x = th.exp(a)\n    th.clamp_(x, 0, 1)  # clip\n    return x\n",
                "import torch as th\n\ndef f(a):\n    x = th.exp(a)\n    x = th.clamp(x, 0, 1)  # clip\n    return x\n"),
        Example("import torch\n\ndef f(a, g):\n    x = a * 3\n    return g(torch.relu_(x))\n", None),
        Example("import torch\nfrom torch import relu_\n\ndef f(a):\n    x = a * 3\n    relu_(x)\n    return x\n", None),
        Example("import torch\n\ndef f(a):\n    x = a * 3\n    torch.relu_(x[0])\n    return x\n", None),
        Example("import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        F.threshold_(x, 0.1, 0.0)\n        return x\n",
                "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass M(nn.Module):\n    def forward(self, x):\n"
                "        x = F.threshold(x, 0.1, 0.0)\n        return x\n",
                unsafe=True),
        Example("import torch\n\nclass M:\n    def run(self, a):\n        self.h = torch.tanh(a)\n"
                "        torch.sigmoid_(self.h)\n",
                "import torch\n\nclass M:\n    def run(self, a):\n        self.h = torch.tanh(a)\n"
                "        self.h = torch.sigmoid(self.h)\n",
                unsafe=True),
        # a parameter and `act` returns None: kept, no fix
        Example("import torch\n\ndef act(x: torch.Tensor):\n    torch.sigmoid_(x)\n"),
        # a parameter returned, but a caller here ignores the result: kept, no fix
        Example("import torch\n\ndef act(x: torch.Tensor):\n    torch.sigmoid_(x)\n    return x\n\n\n"
                "def run(a):\n    h = a * 2\n    act(h)\n    return h\n"),
        # a global: kept, no fix (a rebinding would make it local to `f`)
        Example("import torch\n\nh = torch.tanh(torch.ones(3))\n\ndef f():\n    torch.relu_(h)\n"),
        # a closure variable: kept, no fix
        Example("import torch\n\ndef f(a):\n    h = a * 3\n\n    def act():\n        torch.relu_(h)\n\n"
                "    act()\n    return h\n"),
        # a tuple parameter: kept, no fix
        Example("import torch\nimport torch.nn as nn\nfrom typing import Tuple\n\nclass M(nn.Module):\n"
                "    def forward(self, x: Tuple[torch.Tensor, torch.Tensor]):\n        torch.relu_(x)\n"
                "        return x\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch\n\ndef f(a):\n    x = a * 3\n    # keep in-place: saves memory\n"
                "    torch.relu_(x)\n    return x\n"),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for site in ctx.of(ast.Call):
            call = site.node
            if twin_of(ctx.qualname(call.func)) is None:
                continue
            fixable, why = True, ""
            form = call_form(site)
            first = call.args[0] if call.args else None
            if not isinstance(call.func, ast.Attribute):
                fixable, why = False, "imported bare: its twin is not imported"
            elif form.kind == "nested":
                fixable, why = False, "the call is nested in a larger expression"
            elif first is None or not is_chain(first):
                fixable, why = False, "the first argument is not a name or attribute chain"
            elif form.kind == "return" and not isinstance(first, ast.Name):
                fixable, why = False, "the mutation of an attribute outlives the return"
            out.append(Candidate(call, ctx.position(call), ctx.end_position(call), fixable, why))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        for cand in self.candidates(ctx):
            site = ctx.site_of(cand.node)
            if site.scope.quiet:
                continue
            first = cand.node.args[0] if cand.node.args else None
            if first is not None and ev.leaf(first, site.scope).tensor:
                continue  # IPF008
            verdict = ev.of(first, site.scope) if first is not None else None
            if verdict is not None and verdict.tensor and ev.untracked(first, site.scope, site.stmt) is not None:
                continue  # an index table or integer tensor: autograd never sees it
            conf, note = Confidence.HIGH, "argument of an in-place torch function"
            if verdict is not None and verdict.tensor:
                note = verdict.note
            safe = isinstance(first, ast.Name) and ev.fresh_unaliased(first.id, site.scope)
            finding = self.finding(ctx, cand, confidence=conf, note=note,
                                   safety=FixSafety.SAFE if safe else FixSafety.UNSAFE)
            rebound = (first,) if first is not None else ()
            findings.append(declined(finding, decline_reason(ctx, ev, site.stmt, site.scope, rebound)))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> cst.CSTNode | None:
        small = updated.body[index]
        found = targeted_call(original, updated, index, rc)
        if found is None:
            return None
        form, _, call = found
        func = call.func
        if not isinstance(func, cst.Attribute) or not call.args or call.args[0].keyword is not None:
            return None
        name = func.attr.value
        twin = TORCH_FUNCTION_TWINS.get(name) or FUNCTIONAL_TWINS.get(name)
        if twin is None:
            return None
        new_call = call.with_changes(func=func.with_changes(attr=cst.Name(twin)))
        new_small = rebind(small, form, call.args[0].value, new_call)
        if new_small is None:
            return None
        body = list(updated.body)
        body[index] = new_small
        return updated.with_changes(body=body)
