"""Is this expression a tensor autograd tracks? Local, cheap, explainable evidence.

`i += 1`, `total += loss.item()`, `names += [n]` and numpy arrays are the bulk of
in-place code in real repositories; a rule that fires on them is noise. The
evidence is read from the same function only: what a name was assigned from, how
a parameter is annotated, whether it is an input of `forward` in an nn.Module.
Each verdict carries a Confidence and a short note the finding repeats.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from transforms.base import Confidence
from transforms.context import FileContext, FunctionNode, Scope
from transforms.data.inplace_tables import TENSOR_METHOD_TWINS

_ORDER = {Confidence.HIGH: 2, Confidence.MEDIUM: 1, Confidence.LOW: 0}


@dataclass(frozen=True)
class Verdict:
    """`tensor` True/False/None (unknown) with how sure and why."""

    tensor: bool | None
    confidence: Confidence = Confidence.LOW
    note: str = ""


UNKNOWN = Verdict(None)
NON = Verdict(False)


def _t(conf: Confidence, note: str) -> Verdict:
    return Verdict(True, conf, note)


def _lower(v: Verdict) -> Verdict:
    c = Confidence.MEDIUM if v.confidence is Confidence.HIGH else Confidence.LOW
    return Verdict(True, c, v.note)


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
# Tensor methods whose result may share storage with the receiver (views or "return self").
ALIASING_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "mT", "expand", "expand_as",
    "flatten", "unflatten", "squeeze", "unsqueeze", "narrow", "select", "diagonal", "movedim", "unfold",
    "detach", "contiguous", "to", "type", "type_as", "float", "half", "double", "bfloat16", "long", "int",
    "bool", "cuda", "cpu", "as_strided", "real", "imag", "swapaxes", "swapdims", "split", "chunk",
    "unbind", "tensor_split", "hsplit", "vsplit", "view_as_real", "view_as_complex", "requires_grad_",
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
# torch functions whose result may alias their first argument.
ALIASING_TORCH = frozenset({
    "reshape", "flatten", "squeeze", "unsqueeze", "narrow", "select", "t", "transpose", "permute",
    "as_strided", "view_as_real", "view_as_complex", "chunk", "split", "unbind", "movedim", "swapaxes",
    "swapdims", "diagonal", "expand_copy", "detach", "broadcast_to", "atleast_1d", "atleast_2d",
    "atleast_3d", "real", "imag", "from_numpy", "as_tensor", "asarray", "tensor_split", "dropout",
    "alpha_dropout", "feature_dropout", "feature_alpha_dropout", "broadcast_tensors", "unflatten",
})
NON_TENSOR_BUILTINS = frozenset({
    "len", "int", "float", "str", "bool", "list", "dict", "set", "tuple", "range", "enumerate", "zip",
    "sorted", "repr", "format", "round", "isinstance", "hasattr", "getattr", "type", "id", "hash",
    "open", "print", "map", "filter", "reversed", "divmod", "ord", "chr", "bytes", "frozenset",
})
NON_TENSOR_MODULES = ("numpy.", "np.", "math.", "random.", "os.", "re.", "json.", "time.", "itertools.",
                      "collections.", "pandas.", "PIL.", "cv2.", "string.")
TENSOR_ANNOTATIONS = ("Tensor", "torch.Tensor", "Optional[Tensor]", "Optional[torch.Tensor]",
                      "Tensor | None", "torch.Tensor | None", "nn.Parameter", "torch.nn.Parameter", "Parameter")
FACTORIES = frozenset({
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "tensor",
    "arange", "linspace", "logspace", "eye", "randn", "rand", "randint", "randn_like", "rand_like",
    "randint_like", "randperm", "normal", "bernoulli", "multinomial", "empty_strided",
})
NEW_FACTORY_METHODS = frozenset({"clone", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"})

# -- autograd never tracks these (see Evidence.untracked) ---------------------------------
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


class Evidence:
    """Per-file evidence, computed lazily per function and cached."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._names: dict[tuple[FunctionNode | None, str], Verdict] = {}
        self._in_progress: set[tuple[FunctionNode | None, str]] = set()
        self._aliased: dict[FunctionNode | None, set[str]] = {}

    # -- tensor evidence ------------------------------------------------------
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
                return a if _ORDER[a.confidence] <= _ORDER[b.confidence] else b
            if a.tensor is False and b.tensor is False:
                return NON
            return _lower(a) if a.tensor else (_lower(b) if b.tensor else UNKNOWN)
        if t is ast.Starred:  # for-loop / with / unpacking value
            return self._element_of(expr.value, scope)
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
            best = a if _ORDER[a.confidence] >= _ORDER[b.confidence] else b
            return Verdict(True, best.confidence, best.note)
        if a.tensor or b.tensor:
            v = a if a.tensor else b
            return v
        if a.tensor is False and b.tensor is False:
            return NON
        return UNKNOWN

    def _element_of(self, iterable: ast.AST, scope: Scope) -> Verdict:
        """What a for-loop / unpacking target receives from `iterable`."""
        if isinstance(iterable, ast.Call):
            q = self.ctx.qualname(iterable.func) or ""
            last = q.rsplit(".", 1)[-1]
            if last in ("parameters",):
                return _t(Confidence.HIGH, "a parameter from .parameters()")
            if last in ("range", "enumerate", "zip", "items", "keys", "named_parameters", "named_modules",
                        "named_children", "modules", "children", "named_buffers"):
                return NON if last in ("range", "keys") else UNKNOWN
            v = self._call(iterable, scope)
            if v.tensor:  # x.chunk(2), torch.split(...), x.max(1): tuples of tensors
                return _lower(v)
            return UNKNOWN if v.tensor is None else NON
        if isinstance(iterable, (ast.List, ast.Tuple, ast.Set)):
            verdicts = [self.of(e, scope) for e in iterable.elts]
            if verdicts and all(x.tensor for x in verdicts):
                return _lower(verdicts[0])
            if verdicts and all(x.tensor is False for x in verdicts):
                return NON
            return UNKNOWN
        v = self.of(iterable, scope)
        if v.tensor:  # unpacking a tensor (a, b = x) or iterating its rows
            return _lower(v)
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
                best = max((v for v in verdicts if v.tensor), key=lambda v: _ORDER[v.confidence])
                return best if all(v.tensor for v in verdicts) else _lower(best)
            if verdicts and all(v.tensor is False for v in verdicts):
                return NON
        if attr in ("weight", "bias") and scope.module_cls or attr in ("weight", "bias") and isinstance(
                expr.value, ast.Attribute):
            return _t(Confidence.MEDIUM, f"`.{attr}` of a module")
        return UNKNOWN

    def _class_value(self, value: ast.AST) -> Verdict:
        """Verdict for a `self.attr = value` seen anywhere in the class (no function context)."""
        if isinstance(value, ast.Call):
            q = self.ctx.qualname(value.func) or ""
            if q.endswith("Parameter"):
                return _t(Confidence.HIGH, "an nn.Parameter")
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
                    return _t(Confidence.HIGH, "an nn.Parameter") if last == "Parameter" else NON
                if last[:1].isupper():
                    return NON
                return _t(Confidence.HIGH, f"result of {q.replace('torch.nn.functional.', 'F.')}()")
            if q in NON_TENSOR_BUILTINS or q.startswith(NON_TENSOR_MODULES) or q.startswith(("numpy", "np")):
                return NON
        if isinstance(func, ast.Attribute):
            m = func.attr
            if m in NON_TENSOR_METHODS:
                return NON
            recv = func.value
            if m == "apply" and isinstance(recv, ast.Name) and recv.id in self._autograd_functions():
                return _t(Confidence.MEDIUM, f"output of autograd Function {recv.id}")
            if isinstance(recv, ast.Name) and recv.id == "self":
                # a submodule is an attribute assigned in the class (`self.conv = nn.Conv2d(...)`);
                # `self.helper(...)` calls a method, whose result could be anything
                if scope.module_cls and scope.cls is not None and m in self.ctx.class_attrs.get(scope.cls):
                    return _t(Confidence.MEDIUM, f"output of submodule self.{m}")
                return UNKNOWN
            if m in TENSOR_METHODS or m.endswith("_") and m in TENSOR_METHOD_TWINS:
                base = self.of(recv, scope)
                if base.tensor:
                    return Verdict(True, base.confidence, base.note)
                return base if base.tensor is False else UNKNOWN
        return UNKNOWN

    def _autograd_functions(self) -> frozenset[str]:
        """Classes of this file that subclass torch.autograd.Function (their .apply returns tensors)."""
        names = self.ctx._cache.get("autograd_functions")
        if names is None:
            names = frozenset(
                n.name for n in self.ctx.tree.body if isinstance(n, ast.ClassDef)
                and any((self.ctx.qualname(b) or "").endswith("Function") for b in n.bases))
            self.ctx._cache["autograd_functions"] = names
        return names

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
        key = (func, name)
        cached = self._names.get(key)
        if cached is not None:
            return cached
        if key in self._in_progress:
            return UNKNOWN
        self._in_progress.add(key)
        try:
            verdict = self._from_values(table.get(name, []), scope)
        finally:
            self._in_progress.discard(key)
        self._names[key] = verdict
        return verdict

    def _from_values(self, values: list[ast.AST], scope: Scope) -> Verdict:
        if not values:
            return UNKNOWN
        verdicts = [self.of(v, scope) for v in values]
        tensors = [v for v in verdicts if v.tensor]
        nons = sum(1 for v in verdicts if v.tensor is False)
        if tensors:
            best = max(tensors, key=lambda v: _ORDER[v.confidence])
            if nons:
                return Verdict(True, Confidence.LOW, best.note + " (sometimes a plain value)")
            return best if len(tensors) == len(verdicts) else _lower(best)
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
                    return _t(Confidence.HIGH, f"parameter `{name}` annotated {ann}")
                if ann in ("int", "float", "str", "bool", "list", "dict", "tuple"):
                    return NON
            if scope.is_forward:
                return _t(Confidence.MEDIUM, f"input `{name}` of {scope.cls.name}.forward")
            return UNKNOWN
        return None

    # -- not tracked by autograd -------------------------------------------------------
    def tracked(self, expr: ast.AST, scope: Scope, stmt: ast.stmt) -> Verdict:
        """`at`, then NON when the tensor is provably one autograd does not track: a constant
        index/coordinate table built by factories (`torch.arange`, `zeros`, `meshgrid`) into which
        nothing tracked is written, or an integer/bool tensor (which can never require grad)."""
        verdict = self.at(expr, scope, stmt.lineno)
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
            key = ("int", scope.func, expr.id)
            cached = self._names.get(key)  # type: ignore[arg-type]
            if cached is not None:
                return cached.tensor is True
            if key in self._in_progress or any(p.arg == expr.id for p in self._params(scope)):
                return False
            self._in_progress.add(key)  # type: ignore[arg-type]
            try:
                values = self.ctx.assignments.get(scope.func, {}).get(expr.id, [])
                ok = bool(values) and all(self.integer(v, scope) for v in values)
            finally:
                self._in_progress.discard(key)  # type: ignore[arg-type]
            self._names[key] = Verdict(ok)  # type: ignore[index]
            return ok
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
        verdict = self.of(expr, scope)
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
        key = ("untracked", func, name)
        if key in self._names:
            return self._names[key].note or None  # type: ignore[index]
        if key in self._in_progress:
            return _CONSTANT  # a cycle (`hs[t] = f(hs[t - 1])`): decided by the other bindings
        self._in_progress.add(key)  # type: ignore[arg-type]
        try:
            note = _join([self._untracked_or_unknown(v, scope) for v in values])
            if note in (_CONSTANT, _UNKNOWN):
                note = None  # not shown to be a tensor at all: other evidence decides
            if note is not None:
                for written in _writes_into(func, name, self._view_names(func, name)):
                    if written is REQUIRES_GRAD or self.of(written, scope).tensor \
                            and self._untracked(written, scope) is None:
                        note = None
                        break
        finally:
            self._in_progress.discard(key)  # type: ignore[arg-type]
        self._names[key] = Verdict(False, note=note or "")  # type: ignore[index]
        return note

    def _view_names(self, func: FunctionNode | None, name: str) -> set[str]:
        """Names bound to a view of `name` (`y = x[0]`, `y = x.view(...)`): writes through them count."""
        out = {name}
        for other, values in self.ctx.assignments.get(func, {}).items():
            for v in values:
                node = v
                while isinstance(node, ast.Subscript) or isinstance(node, ast.Call) and isinstance(
                        node.func, ast.Attribute) and node.func.attr in ALIASING_METHODS:
                    node = node.value if isinstance(node, ast.Subscript) else node.func.value
                if isinstance(node, ast.Name) and node.id == name and other != name:
                    out.add(other)
        return out

    # -- leaves -----------------------------------------------------------------
    def leaf(self, expr: ast.AST, scope: Scope) -> Verdict:
        """Is `expr` a leaf that requires grad (a parameter, or created with requires_grad=True)?"""
        if isinstance(expr, ast.Name):
            key = ("leaf", scope.func, expr.id)
            cached = self._names.get(key)  # type: ignore[arg-type]
            if cached is not None:
                return cached
            if key in self._in_progress:
                return UNKNOWN
            self._in_progress.add(key)  # type: ignore[arg-type]
            try:
                verdict = self._leaf_name(expr.id, scope)
            finally:
                self._in_progress.discard(key)  # type: ignore[arg-type]
            self._names[key] = verdict  # type: ignore[index]
            return verdict
        if isinstance(expr, ast.Attribute):
            if expr.attr in ("grad", "data"):
                return UNKNOWN
            if isinstance(expr.value, ast.Name) and expr.value.id == "self" and scope.cls is not None:
                for v in self.ctx.class_attrs.get(scope.cls, {}).get(expr.attr, []):
                    verdict = self._leaf_value(v, scope)
                    if verdict.tensor:
                        return verdict
            if expr.attr in ("weight", "bias"):
                return _t(Confidence.MEDIUM, f"`.{expr.attr}` is a module parameter")
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
            return _t(Confidence.HIGH, f"`{name}.requires_grad_()` makes it a leaf that requires grad")
        return UNKNOWN

    def _leaf_value(self, v: ast.AST, scope: Scope) -> Verdict:
        if isinstance(v, ast.Starred):
            el = self._element_of(v.value, scope)
            if el.tensor and "parameters()" in el.note:
                return el
            return UNKNOWN
        if not isinstance(v, ast.Call):
            return UNKNOWN
        q = self.ctx.qualname(v.func) or ""
        if q.endswith(".Parameter") or q == "Parameter":
            return _t(Confidence.HIGH, "an nn.Parameter")
        for kw in v.keywords:
            if kw.arg == "requires_grad" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                return _t(Confidence.HIGH, "created with requires_grad=True")
        if isinstance(v.func, ast.Attribute):
            if v.func.attr == "requires_grad_" and not (
                    v.args and isinstance(v.args[0], ast.Constant) and v.args[0].value is False):
                return _t(Confidence.HIGH, "made a leaf by .requires_grad_()")
            if v.func.attr in ALIASING_METHODS:
                base = self.leaf(v.func.value, scope)
                if base.tensor:
                    return Verdict(True, Confidence.MEDIUM, "a view of " + base.note)
        return UNKNOWN

    def _requires_grad_called(self, name: str, func: FunctionNode) -> bool:
        key = ("rg", func)
        cache = self.ctx._cache
        if key not in cache:
            names = set()
            for site in self.ctx.of(ast.Call):
                f = site.node.func
                if site.scope.func is func and isinstance(f, ast.Attribute) and f.attr == "requires_grad_" \
                        and isinstance(f.value, ast.Name):
                    names.add(f.value.id)
            cache[key] = names
        return name in cache[key]

    # -- fix safety ---------------------------------------------------------------
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
            return (self.of(value, scope).tensor is True and last not in ALIASING_TORCH
                    and not last.endswith("_"))
        if isinstance(value.func, ast.Attribute):
            m = value.func.attr
            return (m in TENSOR_METHODS and m not in ALIASING_METHODS and not m.endswith("_")
                    and self.of(value.func.value, scope).tensor is True)
        return False

    def _aliased_names(self, func: FunctionNode) -> set[str]:
        cached = self._aliased.get(func)
        if cached is not None:
            return cached
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
        self._aliased[func] = out
        return out

    def fresh_producer(self, value: ast.AST) -> bool:
        """A tensor that nothing saved yet: factories and `.clone()` (writes into it are harmless)."""
        if not isinstance(value, ast.Call):
            return False
        q = self.ctx.qualname(value.func) or ""
        if q.startswith("torch.") and q.rsplit(".", 1)[-1] in FACTORIES:
            return not any(kw.arg == "requires_grad" for kw in value.keywords)
        return isinstance(value.func, ast.Attribute) and value.func.attr in NEW_FACTORY_METHODS


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


def _line_of(node: ast.AST) -> int:
    if isinstance(node, ast.Starred) and not hasattr(node, "lineno"):
        node = node.value
    return getattr(node, "lineno", 0)


_CONSTANT = "a constant"
_UNKNOWN = "unknown"


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


REQUIRES_GRAD = ast.Constant(value="requires_grad_")  # marker: `x.requires_grad_()` seen


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


def get_evidence(ctx: FileContext) -> Evidence:
    """The file's Evidence, created once and shared by every rule."""
    ev = ctx._cache.get("evidence")
    if ev is None:
        ev = ctx._cache["evidence"] = Evidence(ctx)
    return ev
