"""Is this a leaf that requires grad? (A parameter, or made with `requires_grad=True`.)

An in-place write into such a leaf raises at once in autograd ("a leaf Variable that
requires grad is being used in an in-place operation"), so the rules check this before
asking whether the tensor is merely tracked.
"""

from __future__ import annotations

import ast

from inplace_fix.transforms.base import Confidence
from inplace_fix.transforms.context import FileContext, FunctionNode, Scope
from inplace_fix.transforms.evidence.aliasing import ALIASING_METHODS
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import TensorEvidence
from inplace_fix.transforms.evidence.verdict import UNKNOWN, Verdict, yes


class LeafEvidence:
    """Leaf-that-requires-grad verdicts, memoised per (function, name) in the shared memo."""

    def __init__(self, ctx: FileContext, memo: Memo, tensor: TensorEvidence) -> None:
        self.ctx = ctx
        self.memo = memo
        self.tensor = tensor

    def leaf(self, expr: ast.AST, scope: Scope) -> Verdict:
        """Is `expr` a leaf that requires grad (a parameter, or created with requires_grad=True)?"""
        if isinstance(expr, ast.Name):
            with self.memo.slot(("leaf", scope.func, expr.id), UNKNOWN) as slot:
                if slot.missing:
                    slot.value = self._leaf_name(expr.id, scope)
            return slot.value
        if isinstance(expr, ast.Attribute):
            if expr.attr in ("grad", "data"):
                return UNKNOWN
            if isinstance(expr.value, ast.Name) and expr.value.id == "self" and scope.cls is not None:
                for v in self.ctx.class_attrs.get(scope.cls, {}).get(expr.attr, []):
                    verdict = self._leaf_value(v, scope)
                    if verdict.tensor:
                        return verdict
            if expr.attr in ("weight", "bias"):
                return yes(Confidence.MEDIUM, f"`.{expr.attr}` is a module parameter")
        if isinstance(expr, ast.Subscript):
            base = self.leaf(expr.value, scope)
            return Verdict(True, Confidence.MEDIUM, "a view of " + base.note) if base.tensor else UNKNOWN
        return UNKNOWN

    def _leaf_name(self, name: str, scope: Scope) -> Verdict:
        if scope.func is not None and any(p.arg == name for p in self.ctx.params(scope.func)):
            return UNKNOWN
        table = self.ctx.assignments.get(scope.func, {})
        values = table.get(name) or self.ctx.assignments.get(None, {}).get(name, [])
        for v in values:
            verdict = self._leaf_value(v, scope)
            if verdict.tensor:
                return verdict
        if scope.func is not None and self._requires_grad_called(name, scope.func):
            return yes(Confidence.HIGH, f"`{name}.requires_grad_()` makes it a leaf that requires grad")
        return UNKNOWN

    def _leaf_value(self, v: ast.AST, scope: Scope) -> Verdict:
        if isinstance(v, ast.Starred):
            el = self.tensor.element_of(v.value, scope)
            if el.tensor and "parameters()" in el.note:
                return el
            return UNKNOWN
        if not isinstance(v, ast.Call):
            return UNKNOWN
        q = self.ctx.qualname(v.func) or ""
        if q.endswith(".Parameter") or q == "Parameter":
            return yes(Confidence.HIGH, "an nn.Parameter")
        for kw in v.keywords:
            if kw.arg == "requires_grad" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                return yes(Confidence.HIGH, "created with requires_grad=True")
        if isinstance(v.func, ast.Attribute):
            if v.func.attr == "requires_grad_" and not (
                    v.args and isinstance(v.args[0], ast.Constant) and v.args[0].value is False):
                return yes(Confidence.HIGH, "made a leaf by .requires_grad_()")
            if v.func.attr in ALIASING_METHODS:
                base = self.leaf(v.func.value, scope)
                if base.tensor:
                    return Verdict(True, Confidence.MEDIUM, "a view of " + base.note)
        return UNKNOWN

    def _requires_grad_called(self, name: str, func: FunctionNode) -> bool:
        """Is `name.requires_grad_()` called in `func`? One pass over the file's calls answers
        it for every function (a pass per function was quadratic in the file's size)."""
        with self.memo.slot(("requires_grad_",)) as slot:
            if slot.missing:  # function -> names `.requires_grad_()` is called on directly inside it
                receivers: dict[FunctionNode | None, set[str]] = {}
                for site in self.ctx.of(ast.Call):
                    f = site.node.func
                    if isinstance(f, ast.Attribute) and f.attr == "requires_grad_" and isinstance(f.value, ast.Name):
                        receivers.setdefault(site.scope.func, set()).add(f.value.id)
                slot.value = receivers
        return name in slot.value.get(func, ())
