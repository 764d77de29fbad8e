"""Is this expression a tensor at all? (`i += 1`, `total += loss.item()`, numpy arrays: no.)

The evidence is read from the same function only: what a name was assigned from, how a
parameter is annotated, whether it is an input of `forward` in an nn.Module, what a call
returns. Every other question starts here: a write into a plain value is never an
autograd problem.
"""

from __future__ import annotations

import ast

from inplace_fix.transforms.base import Confidence
from inplace_fix.transforms.context import FileContext, FunctionNode, Scope, nested_bodies
from inplace_fix.transforms.data.inplace_tables import RNG_FILL_METHODS, TENSOR_METHOD_TWINS
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.verdict import NON, RANK, UNKNOWN, Verdict, lowered, yes

# Methods that return plain Python values, shapes or dtypes rather than tensors.
NON_TENSOR_METHODS = frozenset({
    "item", "tolist", "numpy", "size", "dim", "ndimension", "numel", "nelement", "data_ptr",
    "element_size", "stride", "storage_offset", "is_contiguous", "is_floating_point", "get_device",
    "keys", "values", "items", "split_lines", "format", "join", "strip", "lower", "upper",
    "startswith", "endswith", "count", "index", "copy", "__len__", "parameters", "named_parameters",
    "state_dict", "modules", "children", "append", "extend", "sort", "encode", "decode",
})
NON_TENSOR_ATTRS = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "requires_grad", "grad_fn",
                              "is_leaf", "layout", "training", "names", "T_", "itemsize", "nbytes"})
# Tensor methods that return a tensor (besides every out-of-place twin).
TENSOR_METHODS = frozenset(TENSOR_METHOD_TWINS.values()) | frozenset({
    "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "contiguous", "clone", "detach",
    "float", "half", "double", "bfloat16", "long", "int", "bool", "to", "type_as", "expand", "expand_as",
    "flatten", "unflatten", "sum", "mean", "std", "var", "prod", "amax", "amin", "softmax", "log_softmax",
    "matmul", "mm", "bmm", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor", "repeat",
    "repeat_interleave", "narrow", "gather", "index_select", "masked_select", "norm", "cuda", "cpu",
    "argmax", "argmin", "abs", "exp", "log", "sigmoid", "tanh", "relu", "roll", "flip", "unsqueeze",
    "squeeze", "t", "mT", "movedim", "select", "diagonal", "tril", "triu", "cumsum", "type",
})
# torch functions that do not return a tensor.
NON_TENSOR_TORCH = frozenset({
    "no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "device", "dtype", "Size", "Generator",
    "is_tensor", "is_floating_point", "is_complex", "numel", "typename", "manual_seed", "seed", "get_default_dtype",
    "set_default_dtype", "compile", "load", "save", "finfo", "iinfo", "is_grad_enabled", "get_rng_state",
    "broadcast_shapes", "result_type", "promote_types", "can_cast", "is_nonzero", "set_printoptions",
    "use_deterministic_algorithms", "set_num_threads", "get_num_threads",
})
NON_TENSOR_TORCH_PREFIXES = ("torch.cuda.", "torch.backends.", "torch.jit.", "torch.distributed.",
                             "torch.utils.", "torch.optim.", "torch.fx.", "torch.onnx.", "torch.hub.",
                             "torch.autograd.graph.", "torch.nn.init.", "torch.nn.utils.", "torch.testing.")
NON_TENSOR_BUILTINS = frozenset({
    "len", "int", "float", "str", "bool", "list", "dict", "set", "tuple", "range", "enumerate", "zip",
    "sorted", "repr", "format", "round", "isinstance", "hasattr", "getattr", "type", "id", "hash",
    "open", "print", "map", "filter", "reversed", "divmod", "ord", "chr", "bytes", "frozenset",
})
NON_TENSOR_MODULES = ("numpy.", "np.", "math.", "random.", "os.", "re.", "json.", "time.", "itertools.",
                      "collections.", "pandas.", "PIL.", "cv2.", "string.")
TENSOR_ANNOTATIONS = ("Tensor", "torch.Tensor", "Optional[Tensor]", "Optional[torch.Tensor]",
                      "Tensor | None", "torch.Tensor | None", "nn.Parameter", "torch.nn.Parameter", "Parameter")


class TensorEvidence:
    """Is `expr` a tensor in `scope`? Answers per (function, name) are memoised in `memo`."""

    def __init__(self, ctx: FileContext, memo: Memo) -> None:
        self.ctx = ctx
        self.memo = memo

    def of(self, expr: ast.AST, scope: Scope) -> Verdict:
        """What is known about `expr` being a tensor in `scope`."""
        t = type(expr)
        if t is ast.Constant or t in (ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.DictComp,
                                      ast.SetComp, ast.GeneratorExp, ast.JoinedStr, ast.Compare, ast.BoolOp):
            return NON
        if t is ast.Name:
            return self.name(expr.id, scope)
        if t is ast.Attribute:
            return self._attribute(expr, scope)
        if t is ast.Call:
            return self._call(expr, scope)
        if t is ast.BinOp:
            return self._combine(self.of(expr.left, scope), self.of(expr.right, scope), "arithmetic on")
        if t is ast.UnaryOp:
            return NON if isinstance(expr.op, ast.Not) else self.of(expr.operand, scope)
        if t is ast.Subscript:
            base = self.of(expr.value, scope)
            return base if base.tensor is not None else UNKNOWN
        if t is ast.IfExp:
            a, b = self.of(expr.body, scope), self.of(expr.orelse, scope)
            if a.tensor and b.tensor:
                return a if RANK[a.confidence] <= RANK[b.confidence] else b
            if a.tensor is False and b.tensor is False:
                return NON
            return lowered(a) if a.tensor else (lowered(b) if b.tensor else UNKNOWN)
        if t is ast.Starred:  # for-loop / with / unpacking value
            return self.element_of(expr.value, scope)
        return UNKNOWN

    def at(self, expr: ast.AST, scope: Scope, line: int) -> Verdict:
        """Like `of`, but a name whose assignments disagree (`indices = x.tolist()` here,
        `indices = torch.tensor(...)` later) is judged by its last assignment before `line`."""
        verdict = self.of(expr, scope)
        if not isinstance(expr, ast.Name) or not verdict.tensor or "sometimes" not in verdict.note:
            return verdict
        values = self.ctx.assignments.get(scope.func, {}).get(expr.id, [])
        before = [v for v in values if _line_of(v) < line]
        if not before:
            return verdict
        last = max(before, key=_line_of)
        v = self.of(last, scope)
        if v.tensor is False:
            return NON
        return verdict

    def _combine(self, a: Verdict, b: Verdict, how: str) -> Verdict:
        if a.tensor and b.tensor:
            best = a if RANK[a.confidence] >= RANK[b.confidence] else b
            return Verdict(True, best.confidence, best.note)
        if a.tensor or b.tensor:
            v = a if a.tensor else b
            return v
        if a.tensor is False and b.tensor is False:
            return NON
        return UNKNOWN

    def element_of(self, iterable: ast.AST, scope: Scope) -> Verdict:
        """What a for-loop / unpacking target receives from `iterable`."""
        if isinstance(iterable, ast.Call):
            q = self.ctx.qualname(iterable.func) or ""
            last = q.rsplit(".", 1)[-1]
            if last in ("parameters",):
                return yes(Confidence.HIGH, "a parameter from .parameters()")
            if last in ("range", "enumerate", "zip", "items", "keys", "named_parameters", "named_modules",
                        "named_children", "modules", "children", "named_buffers"):
                return NON if last in ("range", "keys") else UNKNOWN
            v = self._call(iterable, scope)
            if v.tensor:  # x.chunk(2), torch.split(...), x.max(1): tuples of tensors
                return lowered(v)
            return UNKNOWN if v.tensor is None else NON
        if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
            verdicts = [self.of(e, scope) for e in iterable.elts]
            if verdicts and all(x.tensor for x in verdicts):
                return lowered(verdicts[0])
            if verdicts and all(x.tensor is False for x in verdicts):
                return NON
            return UNKNOWN
        v = self.of(iterable, scope)
        if v.tensor:  # unpacking a tensor (a, b = x) or iterating its rows
            return lowered(v)
        if v.tensor is False:
            return NON
        if isinstance(iterable, ast.Attribute) and iterable.attr in NON_TENSOR_ATTRS:
            return NON
        return UNKNOWN

    def _attribute(self, expr: ast.Attribute, scope: Scope) -> Verdict:
        attr = expr.attr
        if attr in NON_TENSOR_ATTRS:
            return NON
        if attr == "grad":
            return NON  # gradients are not tracked: in-place on them is the optimizer's business
        if attr == "data":
            return self.of(expr.value, scope)
        if isinstance(expr.value, ast.Name) and expr.value.id == "self" and scope.cls is not None:
            values = self.ctx.class_attrs.get(scope.cls, {}).get(attr, [])
            verdicts = [self._class_value(v) for v in values]
            if any(v.tensor for v in verdicts):
                best = max((v for v in verdicts if v.tensor), key=lambda v: RANK[v.confidence])
                return best if all(v.tensor for v in verdicts) else lowered(best)
            if verdicts and all(v.tensor is False for v in verdicts):
                return NON
        if attr in ("weight", "bias") and scope.module_cls or attr in ("weight", "bias") and isinstance(
                expr.value, ast.Attribute):
            return yes(Confidence.MEDIUM, f"`.{attr}` of a module")
        return UNKNOWN

    def _class_value(self, value: ast.AST) -> Verdict:
        """Verdict for a `self.attr = value` seen anywhere in the class (no function context)."""
        if isinstance(value, ast.Call):
            q = self.ctx.qualname(value.func) or ""
            if q.endswith("Parameter"):
                return yes(Confidence.HIGH, "an nn.Parameter")
            if q.startswith("torch.nn.") and q.rsplit(".", 1)[-1][:1].isupper():
                return NON  # a submodule
        if isinstance(value, (ast.Constant, ast.List, ast.Dict, ast.Tuple)):
            return NON
        return self.of(value, Scope()) if isinstance(value, ast.Call) else UNKNOWN

    def _call(self, call: ast.Call, scope: Scope) -> Verdict:
        func = call.func
        q = self.ctx.qualname(func)
        if q is not None:
            if q.startswith("torch."):
                last = q.rsplit(".", 1)[-1]
                if last in NON_TENSOR_TORCH or q.startswith(NON_TENSOR_TORCH_PREFIXES):
                    return NON
                if q.startswith("torch.nn.") and not q.startswith("torch.nn.functional."):
                    return yes(Confidence.HIGH, "an nn.Parameter") if last == "Parameter" else NON
                if last[:1].isupper():
                    return NON
                return yes(Confidence.HIGH, f"result of {q.replace('torch.nn.functional.', 'F.')}()")
            if q in NON_TENSOR_BUILTINS or q.startswith(NON_TENSOR_MODULES) or q.startswith(("numpy", "np")):
                return NON
        if isinstance(func, ast.Attribute):
            m = func.attr
            if m in NON_TENSOR_METHODS:
                return NON
            recv = func.value
            if m == "apply" and isinstance(recv, ast.Name) and recv.id in self._autograd_functions():
                return yes(Confidence.MEDIUM, f"output of autograd Function {recv.id}")
            if isinstance(recv, ast.Name) and recv.id == "self":
                # a submodule is an attribute assigned in the class (`self.conv = nn.Conv2d(...)`);
                # `self.helper(...)` calls a method, whose result could be anything
                if scope.module_cls and scope.cls is not None and m in self.ctx.class_attrs.get(scope.cls):
                    return yes(Confidence.MEDIUM, f"output of submodule self.{m}")
                return UNKNOWN
            if m in TENSOR_METHODS or m.endswith("_") and m in TENSOR_METHOD_TWINS:
                base = self.of(recv, scope)
                if base.tensor:
                    return Verdict(True, base.confidence, base.note)
                return base if base.tensor is False else UNKNOWN
        return UNKNOWN

    def _autograd_functions(self) -> frozenset[str]:
        """Classes of this file that subclass torch.autograd.Function (their .apply returns tensors)."""
        with self.memo.slot(("autograd_functions",)) as slot:
            if slot.missing:
                slot.value = frozenset(
                    n.name for n in self.ctx.tree.body if isinstance(n, ast.ClassDef)
                    and any((self.ctx.qualname(b) or "").endswith("Function") for b in n.bases))
        return slot.value

    def name(self, name: str, scope: Scope) -> Verdict:
        """Verdict for a local name (falls back to module level for globals)."""
        func = scope.func
        table = self.ctx.assignments.get(func, {})
        param = self._param(name, scope)
        if param is not None:
            return param
        if name not in table and func is not None:
            func, table = None, self.ctx.assignments.get(None, {})
            scope = Scope()
        with self.memo.slot(("tensor", func, name), UNKNOWN) as slot:
            if slot.missing:
                values = table.get(name, [])
                extra = self._inplace_bindings(func).get(name)
                if extra:  # only what they show (`x += b` reads `x` itself: it tells nothing more)
                    values = values + [v for v in extra if self.of(v, scope).tensor is not None]
                slot.value = self._from_values(values, scope)
        return slot.value

    def _inplace_bindings(self, func: FunctionNode | None) -> dict[str, list[ast.AST]]:
        """name -> what its in-place statements bind once rewritten (`x += v` is `x = x + v`,
        `torch.relu_(x)` and `torch.add(a, b, out=x)` bind `x` to the call's result): the same
        evidence before a rewrite as after it, so a second run finds nothing the first did not."""
        with self.memo.slot(("inplace-bindings", func)) as slot:
            if slot.missing:
                slot.value = inplace_bindings(self.ctx, func)
        return slot.value

    def _from_values(self, values: list[ast.AST], scope: Scope) -> Verdict:
        if not values:
            return UNKNOWN
        verdicts = [self.of(v, scope) for v in values]
        tensors = [v for v in verdicts if v.tensor]
        nons = sum(1 for v in verdicts if v.tensor is False)
        if tensors:
            best = max(tensors, key=lambda v: RANK[v.confidence])
            if nons:
                return Verdict(True, Confidence.LOW, best.note + " (sometimes a plain value)")
            return best if len(tensors) == len(verdicts) else lowered(best)
        return NON if nons else UNKNOWN

    def _param(self, name: str, scope: Scope) -> Verdict | None:
        func = scope.func
        if func is None:
            return None
        for p in self.ctx.params(func):
            if p.arg != name:
                continue
            if name in ("self", "cls"):
                return NON
            if p.annotation is not None:
                ann = ast.unparse(p.annotation).replace(" ", "")
                if ann in {a.replace(" ", "") for a in TENSOR_ANNOTATIONS}:
                    return yes(Confidence.HIGH, f"parameter `{name}` annotated {ann}")
                if ann in ("int", "float", "str", "bool", "list", "dict", "tuple"):
                    return NON
            if scope.is_forward:
                return yes(Confidence.MEDIUM, f"input `{name}` of {scope.cls.name}.forward")
            return UNKNOWN
        return None


_NO_TWIN_REBINDS = {"zero_": "zeros_like", "fill_": "full_like"}


def inplace_bindings(ctx: FileContext, func: FunctionNode | None) -> dict[str, list[ast.AST]]:
    """The bindings the rules' rewrites of `func`'s in-place statements would add (see
    `TensorEvidence._inplace_bindings`), one walk over its statements."""
    out: dict[str, list[ast.AST]] = {}
    torch = ctx.torch_name()
    stack: list[ast.stmt] = list(func.body if func is not None else ctx.tree.body)
    while stack:
        node = stack.pop()
        t = type(node)
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            continue
        if t is ast.ClassDef:
            stack.extend(node.body)
            continue
        if t is ast.AugAssign and type(node.target) is ast.Name:
            value = ast.BinOp(left=ast.Name(id=node.target.id, ctx=ast.Load()), op=node.op, right=node.value)
            out.setdefault(node.target.id, []).append(ast.copy_location(value, node))
        elif (t is ast.Expr or t is ast.Assign) and type(node.value) is ast.Call:
            call = node.value
            name = _written_name(ctx, call)
            if name is not None:
                out.setdefault(name, []).append(call)
            elif isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name) and torch and (
                    call.func.attr in _NO_TWIN_REBINDS or call.func.attr in RNG_FILL_METHODS):
                factory = _NO_TWIN_REBINDS.get(call.func.attr, "empty_like")
                value = ast.Call(func=ast.Attribute(value=ast.Name(id=torch, ctx=ast.Load()), attr=factory,
                                                    ctx=ast.Load()),
                                 args=[ast.Name(id=call.func.value.id, ctx=ast.Load())], keywords=[])
                out.setdefault(call.func.value.id, []).append(ast.copy_location(value, node))
        else:
            for block in nested_bodies(node, t):
                stack.extend(block)
    return out


def _written_name(ctx: FileContext, call: ast.Call) -> str | None:
    """The name a torch call writes into: `torch.relu_(x)`, `F.relu(x, inplace=True)`, `out=x`."""
    q = ctx.qualname(call.func) or ""
    if not q.startswith("torch."):
        return None
    for kw in call.keywords:
        if kw.arg == "out" and isinstance(kw.value, ast.Name):
            return kw.value.id
        if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
            return call.args[0].id if call.args and isinstance(call.args[0], ast.Name) else None
    last = q.rsplit(".", 1)[-1]
    if last.endswith("_") and not last.endswith("__") and call.args and isinstance(call.args[0], ast.Name):
        return call.args[0].id
    return None


def _line_of(node: ast.AST) -> int:
    if isinstance(node, ast.Starred) and not hasattr(node, "lineno"):
        node = node.value
    return getattr(node, "lineno", 0)
