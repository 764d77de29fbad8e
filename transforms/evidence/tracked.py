"""Does autograd track this tensor? (Or is it provably outside the graph?)

A tensor can be a tensor and still be harmless to write into: a constant index or
coordinate table built by factories (`torch.arange`, `zeros`, `meshgrid`) into which
nothing tracked is written, or an integer/bool tensor (which can never require grad). The
rules drop or lower a finding when this module shows the operand is untracked.
"""

from __future__ import annotations

import ast

from inplace_fix.transforms.context import FileContext, FunctionNode, Scope
from inplace_fix.transforms.evidence.aliasing import ALIASING_METHODS, FACTORIES, NEW_FACTORY_METHODS, view_names
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import (
    NON_TENSOR_TORCH, NON_TENSOR_TORCH_PREFIXES, TENSOR_METHODS, TensorEvidence,
)
from inplace_fix.transforms.evidence.verdict import NON, Verdict

# Integer and bool tensors can never require grad: a write into one cannot reach autograd,
# whatever value is written (torch casts it and drops the graph).
INT_DTYPES = frozenset({"long", "int", "int64", "int32", "int16", "int8", "short", "uint8", "uint16",
                        "uint32", "uint64", "bool"})
INT_CAST_METHODS = frozenset({"long", "int", "short", "byte", "char", "bool"})
# Results that are always integer/bool whatever the input.
INT_RESULTS = frozenset({"argmax", "argmin", "argsort", "nonzero", "bucketize", "searchsorted", "randperm",
                         "randint", "count_nonzero", "isnan", "isinf", "isfinite", "isclose", "eq", "ne",
                         "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "logical_xor",
                         "tril_indices", "triu_indices"})
# Ops whose result keeps the dtype of their tensor inputs (integer in, integer out).
DTYPE_KEEPING = frozenset({
    "view", "reshape", "permute", "transpose", "contiguous", "clone", "flatten", "unflatten", "squeeze",
    "unsqueeze", "expand", "repeat", "repeat_interleave", "narrow", "select", "t", "flip", "roll", "clamp",
    "clip", "detach", "cpu", "cuda", "stack", "cat", "concat", "concatenate", "meshgrid", "ndgrid", "tile",
    "tril", "triu", "diag", "gather", "index_select", "masked_fill", "abs", "neg", "pad", "sum", "cumsum",
    "new_zeros", "new_ones", "new_full", "new_empty",
})
# Functions that only rearrange their tensor inputs (timm's `ndgrid` is a meshgrid wrapper).
PURE_HELPERS = frozenset({"meshgrid", "ndgrid"})
# Fresh tensors that never require grad unless asked (`requires_grad=True`).
UNTRACKED_SOURCES = FACTORIES | frozenset({"from_numpy", "zeros_like", "ones_like", "full_like", "empty_like"})

REQUIRES_GRAD = ast.Constant(value="requires_grad_")  # marker: `x.requires_grad_()` seen

_CONSTANT = "a constant"
_UNKNOWN = "unknown"


class TrackedEvidence:
    """Untracked-tensor and integer-tensor evidence, memoised per (function, name) in the shared memo."""

    def __init__(self, ctx: FileContext, memo: Memo, tensor: TensorEvidence) -> None:
        self.ctx = ctx
        self.memo = memo
        self.tensor = tensor

    def tracked(self, expr: ast.AST, scope: Scope, stmt: ast.stmt) -> Verdict:
        """`at`, then NON when the tensor is provably one autograd does not track: a constant
        index/coordinate table built by factories (`torch.arange`, `zeros`, `meshgrid`) into which
        nothing tracked is written, or an integer/bool tensor (which can never require grad)."""
        verdict = self.tensor.at(expr, scope, stmt.lineno)
        if verdict.tensor is not False and self.untracked(expr, scope, stmt) is not None:
            return NON
        return verdict

    def untracked(self, expr: ast.AST, scope: Scope, stmt: ast.stmt | None = None) -> str | None:
        """Why `expr` is a tensor autograd does not track (None: no such evidence)."""
        if isinstance(expr, ast.Name) and stmt is not None and scope.func is not None:
            value = _dominating_value(self.ctx, stmt, expr.id)
            if value is not None and self.integer(value, scope):
                return "an integer/bool tensor"
        return self._untracked(expr, scope)

    def integer(self, expr: ast.AST, scope: Scope) -> bool:
        """Is `expr` an integer or bool tensor (dtype literal, integer-valued op, cast)?"""
        t = type(expr)
        if t is ast.Compare:
            return True
        if t is ast.Subscript:
            return self.integer(expr.value, scope)
        if t is ast.BinOp:
            if isinstance(expr.op, (ast.Div, ast.Pow)):
                return False
            sides = (expr.left, expr.right)
            return all(self.integer(x, scope) or _int_literal(x) for x in sides) and not all(map(_int_literal, sides))
        if t is ast.Name:
            if any(p.arg == expr.id for p in self._params(scope)):
                return False
            with self.memo.slot(("int", scope.func, expr.id), False) as slot:
                if slot.missing:  # every binding of the name is an integer/bool tensor
                    values = self.ctx.assignments.get(scope.func, {}).get(expr.id, [])
                    slot.value = bool(values) and all(self.integer(v, scope) for v in values)
            return slot.value
        if t is not ast.Call:
            return False
        for kw in expr.keywords:
            if kw.arg == "dtype":
                return _int_dtype(kw.value)
        func = expr.func
        last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if last in INT_RESULTS or isinstance(func, ast.Attribute) and last in INT_CAST_METHODS:
            return True
        if last == "to":
            return any(_int_dtype(a) for a in expr.args)
        if last in DTYPE_KEEPING:
            if isinstance(func, ast.Attribute) and not self._is_module(func.value):
                return self.integer(func.value, scope)  # x.view(...), x.new_zeros(...): x's dtype
            tensors = list(expr.args) if last in ("meshgrid", "ndgrid") else expr.args[:1]
            if len(tensors) == 1 and isinstance(tensors[0], (ast.List, ast.Tuple)):
                tensors = tensors[0].elts  # torch.stack([a, b]), torch.meshgrid((a, b))
            return bool(tensors) and all(self.integer(x, scope) for x in tensors)
        return False

    def _is_module(self, node: ast.AST) -> bool:
        q = self.ctx.qualname(node) or ""
        return q.startswith("torch") or isinstance(node, ast.Name) and node.id in ("torch", "F", "nn")

    def _params(self, scope: Scope) -> list[ast.arg]:
        return self.ctx.params(scope.func) if scope.func is not None else []

    def _untracked(self, expr: ast.AST, scope: Scope) -> str | None:
        note = self._untracked_or_unknown(expr, scope)
        return None if note == _UNKNOWN else note

    def _untracked_or_unknown(self, expr: ast.AST, scope: Scope) -> str | None:
        """A note when `expr` is untracked, `_CONSTANT` for a plain value, `_UNKNOWN` when
        nothing is known about it, None when it is (or may be, by the rules' convention that
        torch results follow their inputs) a tensor autograd tracks."""
        t = type(expr)
        if t is ast.Constant or t is ast.Compare:
            return _CONSTANT
        if t is ast.Subscript or t is ast.Starred:
            return self._untracked_or_unknown(expr.value, scope)
        if t is ast.UnaryOp:
            return self._untracked_or_unknown(expr.operand, scope)
        if t is ast.BinOp:
            return _join([self._untracked_or_unknown(expr.left, scope),
                          self._untracked_or_unknown(expr.right, scope)])
        if t in (ast.List, ast.Tuple):
            return _join([self._untracked_or_unknown(e, scope) for e in expr.elts]) if expr.elts else _CONSTANT
        if t in (ast.ListComp, ast.GeneratorExp):  # `[torch.arange(n) for n in sizes]`
            return self._untracked_or_unknown(expr.elt, scope)
        note = self._untracked_name(expr.id, scope) if t is ast.Name else None
        if note is not None:
            return note
        verdict = self.tensor.of(expr, scope)
        if verdict.tensor is False:
            return _CONSTANT  # a plain value (`len(x)`, `x.shape[0]`, an int parameter)
        if t is ast.Name:
            return None if verdict.tensor else _UNKNOWN
        if t is not ast.Call:
            return None if verdict.tensor else _UNKNOWN
        if self.integer(expr, scope):
            return "an integer/bool tensor"
        func = expr.func
        q = self.ctx.qualname(func) or ""
        last = q.rsplit(".", 1)[-1] if q else (func.attr if isinstance(func, ast.Attribute) else "")
        if any(kw.arg == "requires_grad" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False)
               for kw in expr.keywords):
            return None
        if q.startswith("torch.") and last in UNTRACKED_SOURCES:
            return f"built by torch.{last}() without requires_grad"
        if isinstance(func, ast.Attribute) and func.attr in NEW_FACTORY_METHODS and func.attr != "clone":
            return f"built by .{func.attr}() without requires_grad"
        pure = q.startswith("torch.") and last not in NON_TENSOR_TORCH and not last[:1].isupper() \
            and not q.startswith(("torch.nn.", *NON_TENSOR_TORCH_PREFIXES)) or q.startswith("torch.nn.functional.") \
            or last in PURE_HELPERS and isinstance(func, ast.Name)
        if pure:
            inputs: list[ast.AST] = [*expr.args, *(kw.value for kw in expr.keywords)]
        elif isinstance(func, ast.Attribute) and (func.attr in TENSOR_METHODS or func.attr in ALIASING_METHODS):
            inputs = [func.value, *expr.args, *(kw.value for kw in expr.keywords)]
        else:
            return None if verdict.tensor else _UNKNOWN
        return _join([self._untracked_or_unknown(x, scope) for x in inputs])

    def _untracked_name(self, name: str, scope: Scope) -> str | None:
        """Every binding of `name` in its function is untracked and nothing written into it
        in place (through it or a view of it) carries a tensor autograd may track."""
        if any(p.arg == name for p in self._params(scope)):
            return None
        func = scope.func
        values = self.ctx.assignments.get(func, {}).get(name)
        if not values:
            return None
        # a cycle (`hs[t] = f(hs[t - 1])`) answers _CONSTANT: decided by the other bindings
        with self.memo.slot(("untracked", func, name), _CONSTANT) as slot:
            if slot.missing:
                note = _join([self._untracked_or_unknown(v, scope) for v in values])
                if note in (_CONSTANT, _UNKNOWN):
                    note = None  # not shown to be a tensor at all: other evidence decides
                if note is not None:
                    for written in _writes_into(func, name, view_names(self.ctx, func, name)):
                        if written is REQUIRES_GRAD or self.tensor.of(written, scope).tensor \
                                and self._untracked(written, scope) is None:
                            note = None
                            break
                slot.value = note
        return slot.value


def _join(notes: list[str | None]) -> str | None:
    """Untracked when every input is: some untracked tensor, the rest plain values or unknown
    (an unknown scalar such as a window size does not make an index table trainable)."""
    if None in notes:
        return None
    tensors = [n for n in notes if n not in (_CONSTANT, _UNKNOWN)]
    if tensors:
        return tensors[0]
    return _UNKNOWN if _UNKNOWN in notes else _CONSTANT


def _int_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int or isinstance(node, ast.Call) and \
        isinstance(node.func, ast.Name) and node.func.id in ("len", "int")


def _int_dtype(node: ast.AST) -> bool:
    """`torch.long`, `torch.int64`, `torch.bool`...: an integer/bool dtype literal."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch" \
        and node.attr in INT_DTYPES


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


def _writes_into(func: FunctionNode | None, name: str, names: set[str]) -> list[ast.AST]:
    """Values written in place into `names` in `func`: `x[i] = v`, `x op= v`, `x.op_(v)`, `out=x`."""
    if func is None:
        return []
    out: list[ast.AST] = []
    for node in ast.walk(func):
        t = type(node)
        if t is ast.Assign:
            if any(isinstance(tg, ast.Subscript) and isinstance(_root(tg), ast.Name) and _root(tg).id in names
                   for tg in node.targets):
                out.append(node.value)
        elif t is ast.AugAssign:
            r = _root(node.target)
            if isinstance(r, ast.Name) and r.id in names:
                out.append(node.value)
        elif t is ast.Call:
            f = node.func
            args = [*node.args, *(kw.value for kw in node.keywords)]
            if isinstance(f, ast.Attribute) and f.attr.endswith("_") and not f.attr.endswith("__"):
                r = _root(f.value)
                if isinstance(r, ast.Name) and r.id in names:
                    if f.attr == "requires_grad_":
                        return [REQUIRES_GRAD]  # made a leaf: tracked from here on
                    out.extend(args)
            if any(kw.arg == "out" and isinstance(kw.value, ast.Name) and kw.value.id in names for kw in node.keywords):
                out.extend(node.args)
    return out


def _dominating_value(ctx: FileContext, stmt: ast.stmt, name: str) -> ast.AST | None:
    """The value of the nearest `name = value` before `stmt` in the same block, when no
    statement in between rebinds `name` (so it is certainly the tensor `stmt` writes into)."""
    block = ctx.block_of.get(stmt)
    if block is None:
        return None
    body, i = block
    for j in range(i - 1, -1, -1):
        prev = body[j]
        if isinstance(prev, ast.Assign) and len(prev.targets) == 1 and isinstance(prev.targets[0], ast.Name) \
                and prev.targets[0].id == name:
            return prev.value
        if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(prev)):
            return None
    return None
