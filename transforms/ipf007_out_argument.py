"""IPF007: `out=` writes a result into an existing tensor; bind the result instead."""

from __future__ import annotations

import ast
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, Rule
from inplace_fix.transforms.callfix import statement_call
from inplace_fix.transforms.common import call_form, comment_near_arg, decline_reason, declined, is_chain
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.cstutil import dotted as cst_dotted
from inplace_fix.transforms.cstutil import keyword_index, remove_arg
from inplace_fix.transforms.evidence import Confidence, get_evidence
from inplace_fix.transforms.lazycst import cst


def out_keyword(call: ast.Call) -> ast.keyword | None:
    for kw in call.keywords:
        if kw.arg == "out" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
            return kw
    return None


class OutArgument(Rule):
    code: ClassVar[str] = "IPF007"
    name: ClassVar[str] = "out-argument"
    message: ClassVar[str] = "`out=` writes into an existing tensor in place; assign the result instead"
    title: ClassVar[str] = "assign the result instead of writing into out="
    hand_fix: ClassVar[str] = "assign the result instead of passing `out=`"
    finds: ClassVar[str] = (
        'torch calls that write their result into an existing tensor through `out=` (`torch.matmul(x, w, '
        'out=buf)`, `torch.add(a, b, out=c)`).'
    )
    breaks: ClassVar[str] = (
        '`out=` resizes and overwrites the given tensor in place: if autograd saved it, `backward()` '
        'fails with "modified by an inplace operation", and torch refuses `out=` altogether when an input'
        ' requires grad ("functions with out=... arguments don\'t support automatic differentiation").'
    )
    explanation: ClassVar[str] = (
        "`torch.matmul(x, w, out=buf)` resizes and overwrites `buf` in place: if autograd saved `buf`, "
        "backward fails, and out= is not differentiable when an input requires grad. Binding the "
        "result (`buf = torch.matmul(x, w)`) gives the same values in a new tensor. `y = torch.add(a, b, "
        "out=c)` becomes `c = y = torch.add(a, b)` (both names named the written tensor). Refused "
        "(flagged, no fix): a call nested in a larger expression, an `out=` that is not a name or "
        "attribute chain (a tuple of outputs, a subscript), `return torch.add(a, b, out=self.c)`."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "A preallocated buffer exists to be reused: any other reference to it (an attribute, a "
        "container, the caller when it is a parameter, a view) saw the result before and keeps the old "
        "values now. Safe only when the buffer is a local that every assignment binds to a new tensor "
        "and that is never aliased (see IPF001). Where a rebinding cannot reach every reader of the old tensor, or a "
        "comment asks to keep the operation, no fix is offered (see IPF001)."
    )
    statement_level: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "import torch\n\ndef f(x, w):\n    return torch.matmul(x, w)\n",
        "import torch\n\ndef f(x, w):\n    return torch.matmul(x, w, out=None)\n",
        "import torch\n\ndef f(x, w, buf):\n    with torch.no_grad():\n        torch.matmul(x, w, out=buf)\n",
        "def f(x, buf):\n    helper(x, out=buf)\n",
        "import numpy as np\n\ndef f(a, b, c):\n    np.add(a, b, out=c)\n",
        "import torch\n\n@torch.no_grad()\ndef f(a, b, c):\n    torch.add(a, b, out=c)\n",
        "import torch\n\nclass SGD(torch.optim.Optimizer):\n    def step(self):\n        torch.mul(self.a, 2, out=self.b)\n",
        "import torch\n\ndef f(x, w):\n    buf = torch.matmul(x, w)\n    return buf\n",
        "import torch\n\ndef f(t):\n    plain = []\n    torch.utils.get_plain(t, out=plain)\n",
        "import torch\n\ndef f(t, o):\n    torch._C._nn.foo(t, out=o)\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch\n\ndef f(x, w):\n    buf = torch.empty(2, 2)\n    torch.matmul(x, w, out=buf)\n    return buf\n",
                "import torch\n\ndef f(x, w):\n    buf = torch.empty(2, 2)\n    buf = torch.matmul(x, w)\n    return buf\n"),
        Example("import torch\n\ndef f(x, w, buf):\n    torch.matmul(x, w, out=buf)\n    return buf\n",
                "import torch\n\ndef f(x, w, buf):\n    buf = torch.matmul(x, w)\n    return buf\n", unsafe=True),
        Example("import torch\n\ndef f(a, b, c):\n    y = torch.add(a, b, out=c)\n    return y\n",
                "import torch\n\ndef f(a, b, c):\n    c = y = torch.add(a, b)\n    return y\n", unsafe=True),
        Example("import torch\n\ndef f(a, b, c):\n    c = torch.add(a, b, out=c)\n    return c\n",
                "import torch\n\ndef f(a, b, c):\n    c = torch.add(a, b)\n    return c\n", unsafe=True),
        Example("import torch\n\nclass M:\n    def run(self, a, b):\n        torch.mul(a, b, out=self.buf)  # reuse\n",
                "import torch\n\nclass M:\n    def run(self, a, b):\n        self.buf = torch.mul(a, b)  # reuse\n", unsafe=True),
        Example("import torch\n\ndef f(a, b):\n    c = torch.empty(3)\n    torch.add(\n        a,\n        b,\n        out=c,\n    )\n    return c\n",
                "import torch\n\ndef f(a, b):\n    c = torch.empty(3)\n    c = torch.add(\n        a,\n        b,\n    )\n    return c\n"),
        Example("import torch\n\ndef f(a, c):\n    return torch.exp(a, out=c)\n",
                "import torch\n\ndef f(a, c):\n    return torch.exp(a)\n", unsafe=True),
        Example("import torch\n\ndef f(a, v, i):\n    torch.max(a, 0, out=(v, i))\n", None),
        Example("import torch\n\ndef f(a, c, g):\n    g(torch.exp(a, out=c))\n", None),
        Example("import torch\n\ndef f(a, c):\n    torch.linalg.matmul(a, a, out=c[0])\n", None),
        Example("import torch\n\ndef f(a, c):\n    torch.exp(\n        a,\n        out=c,  # reuse\n    )\n", None),
        # the caller's `c` receives the result and `f` returns None: rebinding `c` would drop it
        Example("import torch\n\ndef f(a, b, c):\n    torch.cat([a, b], dim=0, out=c)\n", None),
        Example("import torch\n\ndef f(a, b, c):\n    torch.cat([a, b], dim=0, out=c)\n    return c\n",
                "import torch\n\ndef f(a, b, c):\n    c = torch.cat([a, b], dim=0)\n    return c\n", unsafe=True),
        # a parameter and `f` returns something else: the caller's `c` receives the result; kept, no fix
        Example("import torch\n\ndef f(a, b, c):\n    torch.add(a, b, out=c)\n    return a\n"),
        # a parameter returned, but a caller here ignores the result: kept, no fix
        Example("import torch\n\ndef f(a, b, c):\n    torch.add(a, b, out=c)\n    return c\n\n\n"
                "def g(a, b, c):\n    f(a, b, c)\n    return c\n"),
        # a global buffer: `buf = torch.add(a, b)` would make it local to `f`; kept, no fix
        Example("import torch\n\nbuf = torch.empty(3)\n\ndef f(a, b):\n    torch.add(a, b, out=buf)\n"),
        # a closure variable: kept, no fix
        Example("import torch\n\ndef f(a, b):\n    buf = torch.empty(3)\n\n    def fill():\n"
                "        torch.add(a, b, out=buf)\n\n    fill()\n    return buf\n"),
        # a class attribute: `self.buf = ...` would shadow it on one instance; kept, no fix
        Example("import torch\n\nclass M:\n    buf = torch.empty(3)\n\n    def run(self, a, b):\n"
                "        torch.mul(a, b, out=self.buf)\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch\n\ndef f(x, w):\n    buf = torch.empty(2, 2)\n"
                "    torch.matmul(x, w, out=buf)  # keep inplace\n    return buf\n"),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        out = []
        for site in ctx.of(ast.Call):
            call = site.node
            kw = out_keyword(call)
            if kw is None:
                continue
            q = ctx.qualname(call.func) or ""
            if not q.startswith("torch.") or "._" in q:
                continue  # not torch's, or torch internals with their own out= conventions
            form = call_form(site)
            fixable, why = True, ""
            if form.kind == "nested":
                fixable, why = False, "the call is nested in a larger expression"
            elif not is_chain(kw.value):
                fixable, why = False, "`out=` is not a name or attribute chain"
            elif form.kind == "return" and not isinstance(kw.value, ast.Name):
                fixable, why = False, "the write into an attribute outlives the return"
            elif form.kind == "assign" and isinstance(form.target, (ast.Tuple, ast.List)):
                fixable, why = False, "unpacking target"
            elif comment_near_arg(ctx, call, len(call.args) + call.keywords.index(kw)):
                fixable, why = False, "a comment sits next to `out=`"
            out.append(Candidate(call, ctx.position(call), ctx.end_position(call), fixable, why))
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        for cand in self.candidates(ctx):
            site = ctx.site_of(cand.node)
            if site.scope.quiet:
                continue
            buf = out_keyword(cand.node).value
            if not isinstance(buf, (ast.Tuple, ast.List)) and ev.of(buf, site.scope).tensor is False:
                continue  # out= a list or another plain value: not a tensor write
            safe = isinstance(buf, ast.Name) and ev.fresh_unaliased(buf.id, site.scope)
            finding = self.finding(ctx, cand, confidence=Confidence.HIGH, note="torch function with out=",
                                   safety=FixSafety.SAFE if safe else FixSafety.UNSAFE)
            findings.append(declined(finding, decline_reason(ctx, ev, site.stmt, site.scope, (buf,))))
        return findings

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> cst.CSTNode | None:
        orig = statement_call(original.body[index])
        found = statement_call(updated.body[index])
        if orig is None or found is None or not rc.targeted(orig[1]):
            return None
        form, call = found
        small = updated.body[index]
        i = keyword_index(call.args, "out")
        if i is None:
            return None
        buf = call.args[i].value
        if cst_dotted(buf) is None:
            return None
        new_call = remove_arg(call, i)
        if new_call is None:
            return None
        if form == "stmt":
            new = cst.Assign(targets=[cst.AssignTarget(target=buf)], value=new_call, semicolon=small.semicolon)
        elif form == "assign":
            target = small.targets[0].target
            if isinstance(target, (cst.Tuple, cst.List)):
                return None
            if cst_dotted(target) == cst_dotted(buf):
                new = small.with_changes(value=new_call)
            else:
                new = small.with_changes(targets=[cst.AssignTarget(target=buf), *small.targets], value=new_call)
        elif form == "return" and isinstance(buf, cst.Name):
            new = small.with_changes(value=new_call)
        else:
            return None
        body = list(updated.body)
        body[index] = new
        return updated.with_changes(body=body)
