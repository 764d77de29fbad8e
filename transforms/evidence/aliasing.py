"""Who else holds this tensor? Views, containers, closures, `self.` attributes.

A fix that rebinds `x = x + 1` instead of writing `x += 1` is only invisible to the rest of
the program when nothing else refers to the tensor `x` named: no view of it, no list it
was appended to, no closure, no other name. This module answers that, and which values
are fresh tensors in the first place.
"""

from __future__ import annotations

import ast

from inplace_fix.transforms.context import FileContext, FunctionNode, Scope
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import TENSOR_METHODS, TensorEvidence

# Tensor methods whose result may share storage with the receiver (views or "return self").
ALIASING_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "mT", "expand", "expand_as",
    "flatten", "unflatten", "squeeze", "unsqueeze", "narrow", "select", "diagonal", "movedim", "unfold",
    "detach", "contiguous", "to", "type", "type_as", "float", "half", "double", "bfloat16", "long", "int",
    "bool", "cuda", "cpu", "as_strided", "real", "imag", "swapaxes", "swapdims", "split", "chunk",
    "unbind", "tensor_split", "hsplit", "vsplit", "view_as_real", "view_as_complex", "requires_grad_",
})
# torch functions whose result may alias their first argument.
ALIASING_TORCH = frozenset({
    "reshape", "flatten", "squeeze", "unsqueeze", "narrow", "select", "t", "transpose", "permute",
    "as_strided", "view_as_real", "view_as_complex", "chunk", "split", "unbind", "movedim", "swapaxes",
    "swapdims", "diagonal", "expand_copy", "detach", "broadcast_to", "atleast_1d", "atleast_2d",
    "atleast_3d", "real", "imag", "from_numpy", "as_tensor", "asarray", "tensor_split", "dropout",
    "alpha_dropout", "feature_dropout", "feature_alpha_dropout", "broadcast_tensors", "unflatten",
})
# torch functions that create a new tensor nothing else refers to.
FACTORIES = frozenset({
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "tensor",
    "arange", "linspace", "logspace", "eye", "randn", "rand", "randint", "randn_like", "rand_like",
    "randint_like", "randperm", "normal", "bernoulli", "multinomial", "empty_strided",
})
NEW_FACTORY_METHODS = frozenset({"clone", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"})


class AliasEvidence:
    """Is a local tensor fresh and unshared, so rebinding it is invisible to other references?"""

    def __init__(self, ctx: FileContext, memo: Memo, tensor: TensorEvidence) -> None:
        self.ctx = ctx
        self.memo = memo
        self.tensor = tensor

    def fresh_unaliased(self, name: str, scope: Scope) -> bool:
        """True when `name` is a local of this function, every assignment to it creates a new
        tensor (arithmetic, a non-view torch/F call, an out-of-place method), and it is never
        stored anywhere another reference could see it. Then rewriting an in-place op on it as
        a rebinding cannot change what any other reference observes."""
        func = scope.func
        if func is None:
            return False
        if any(p.arg == name for p in self.ctx.params(func)):
            return False
        values = [v for v in self.ctx.assignments.get(func, {}).get(name, []) if not _returns_itself(v, name)]
        if not values or not all(self.is_fresh(v, scope) for v in values):
            return False
        return name not in self._aliased_names(func)

    def is_fresh(self, value: ast.AST, scope: Scope) -> bool:
        """Does evaluating `value` always create a new tensor no other name refers to?"""
        if isinstance(value, (ast.BinOp, ast.UnaryOp)):
            return True
        if not isinstance(value, ast.Call):
            return False
        for kw in value.keywords:
            if kw.arg in ("inplace", "out") and not (isinstance(kw.value, ast.Constant) and not kw.value.value):
                return False
        q = self.ctx.qualname(value.func) or ""
        if q.startswith("torch."):
            last = q.rsplit(".", 1)[-1]
            return (self.tensor.of(value, scope).tensor is True and last not in ALIASING_TORCH
                    and not last.endswith("_"))
        if isinstance(value.func, ast.Attribute):
            m = value.func.attr
            return (m in TENSOR_METHODS and m not in ALIASING_METHODS and not m.endswith("_")
                    and self.tensor.of(value.func.value, scope).tensor is True)
        return False

    def _aliased_names(self, func: FunctionNode) -> set[str]:
        """Names in `func` whose object something else may also hold: stored in a container,
        viewed, yielded, captured by a closure, global (one walk per function)."""
        with self.memo.slot(("aliased", func)) as slot:
            if slot.missing:
                slot.value = _aliased_names(func)
        return slot.value

    def fresh_producer(self, value: ast.AST) -> bool:
        """A tensor that nothing saved yet: factories and `.clone()` (writes into it are harmless)."""
        if not isinstance(value, ast.Call):
            return False
        q = self.ctx.qualname(value.func) or ""
        if q.startswith("torch.") and q.rsplit(".", 1)[-1] in FACTORIES:
            return not any(kw.arg == "requires_grad" for kw in value.keywords)
        return isinstance(value.func, ast.Attribute) and value.func.attr in NEW_FACTORY_METHODS


def view_names(ctx: FileContext, func: FunctionNode | None, name: str) -> set[str]:
    """Names bound to a view of `name` (`y = x[0]`, `y = x.view(...)`): writes through them count."""
    out = {name}
    for other, values in ctx.assignments.get(func, {}).items():
        for v in values:
            node = v
            while isinstance(node, ast.Subscript) or isinstance(node, ast.Call) and isinstance(
                    node.func, ast.Attribute) and node.func.attr in ALIASING_METHODS:
                node = node.value if isinstance(node, ast.Subscript) else node.func.value
            if isinstance(node, ast.Name) and node.id == name and other != name:
                out.add(other)
    return out


def _aliased_names(func: FunctionNode) -> set[str]:
    out: set[str] = set()

    def bare(node: ast.AST | None) -> None:
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Subscript):  # y = x[0] is a view of x
            bare(node.value)
        elif isinstance(node, ast.Attribute) and node.attr in ("data", "T", "mT", "H", "real", "imag"):
            bare(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ALIASING_METHODS:
            bare(node.func.value)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for e in node.elts:
                bare(e.value if isinstance(e, ast.Starred) else e)
        elif isinstance(node, ast.Dict):
            for e in node.values:
                bare(e)

    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            bare(node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            bare(node.value)
        elif isinstance(node, ast.AugAssign) and not isinstance(node.target, ast.Name):
            bare(node.value)
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            bare(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "append", "extend", "insert", "add", "setdefault", "update", "appendleft", "register_buffer",
                "put", "__setitem__"):
            for a in node.args:
                bare(a)
        elif isinstance(node, (ast.Nonlocal, ast.Global)):
            out.update(node.names)
        elif isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)) and node is not func:
            out.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))  # closures
    return out


def _returns_itself(value: ast.AST, name: str) -> bool:
    """`x = x.relu_()`, `x = F.relu(x, inplace=True)`: rebinding a name to its own tensor."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr.endswith("_") and isinstance(func.value, ast.Name) \
            and func.value.id == name:
        return True
    first = value.args[0] if value.args else None
    if isinstance(first, ast.Name) and first.id == name:
        if any(kw.arg in ("inplace", "out") for kw in value.keywords):
            return True
        return isinstance(func, ast.Attribute) and func.attr.endswith("_")
    return False
