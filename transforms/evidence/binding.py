"""Does a rebinding reach every reader of the old object?

`x.add_(y)` changes the object `x` names; `x = x.add(y)` changes which object the name `x`
means in one scope. The two compute the same only when every later reader of the old
object reads it through that very name in that very scope. This module answers when they
do not, with a reason the user can read:

- the name is a parameter and the caller can still see the object (the function returns
  None, returns something else, or a caller in the file ignores its result);
- the name is not the function's own (a global or a closure variable: a new binding would
  make it local, UnboundLocalError), or it is declared `global`/`nonlocal` (the outer name is
  rebound while other readers still hold the old tensor);
- the name may be a Python container or a numpy array (`.clone()` does not exist there);
- `self.attr` names a class attribute, shared by every instance.

Everything is read from the same file; answers are cached per function in the shared memo.
The tables behind the answers live in `flow` (returns, callers, which assignments keep the
caller's object) and `containers` (is it a list, a dict, a numpy array?).
"""

from __future__ import annotations

import ast

from inplace_fix.transforms.context import FileContext, FunctionNode, Scope, dotted, nested_bodies
from inplace_fix.transforms.evidence.containers import (
    CONTAINER_ANNOTATION, CONTAINER_NAME, Uses, container_uses, container_value, mentions_container_use,
)
from inplace_fix.transforms.evidence.flow import (
    CallSite, Flow, argument, assigned, call_sites, flow, holders, is_none, keeps_object, reads, returns_object,
    same_object, statement_parents,
)
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import TENSOR_ANNOTATIONS, TensorEvidence

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_TRY_STAR = getattr(ast, "TryStar", ast.Try)
_MATCH = getattr(ast, "Match", None)
_TENSOR_ANNOTATIONS = frozenset(a.replace(" ", "") for a in TENSOR_ANNOTATIONS)


class BindingEvidence:
    """Why a rebinding of a name (or `self.attr`) at a statement would not reach every reader."""

    def __init__(self, ctx: FileContext, memo: Memo, tensor: TensorEvidence) -> None:
        self.ctx = ctx
        self.memo = memo
        self.tensor = tensor

    def rebinding_blocker(self, target: ast.AST, scope: Scope, stmt: ast.stmt) -> str | None:
        """The reason a rewrite that rebinds `target` at `stmt` could change what the program
        computes, or None when none of the known reasons applies (an attribute chain other than
        `self.<class attribute>`, a subscript, or anything else is not judged here)."""
        if isinstance(target, ast.Attribute):
            return self._class_attribute(target, scope)
        if not isinstance(target, ast.Name):
            return None
        name = target.id
        return (self._scope(name, scope) or self._container(name, scope, stmt)
                or self._parameter(name, scope, stmt))

    # -- whose name is it? -----------------------------------------------------------------
    def _scope(self, name: str, scope: Scope) -> str | None:
        func = scope.func
        if func is None:
            if scope.cls is None or name in _class_body_names(scope.cls):
                return None
            return (f"`{name}` is not bound in the body of class `{scope.cls.name}`: a rebinding there would "
                    f"create a class attribute and leave the outer `{name}` unchanged")
        names = self._names(func)
        kind = names.declared.get(name)
        if kind is not None:
            return (f"`{name}` is declared {kind} in `{func.name}`: a rebinding would replace the outer `{name}`, "
                    "and readers still holding the old tensor would miss the in-place change")
        if name in names.bound:
            return None
        owner = self._enclosing_owner(func, name)
        where = f"a variable of the enclosing function `{owner}`" if owner else "a global of the module"
        return (f"`{name}` is not bound in `{func.name}` ({where}): a rebinding there would make it local to "
                f"`{func.name}` and raise UnboundLocalError at its first read")

    def _enclosing_owner(self, func: FunctionNode, name: str) -> str | None:
        """The nearest enclosing function that binds `name` (a closure variable), else None."""
        parent = self._parents().get(func)
        while parent is not None:
            names = self._names(parent)
            if name in names.bound or name in names.declared:
                return None if names.declared.get(name) == "global" else parent.name
            parent = self._parents().get(parent)
        return None

    def _names(self, func: FunctionNode) -> "_Names":
        with self.memo.slot(("binding-names", func)) as slot:
            if slot.missing:
                slot.value = _own_names(func, self.ctx)
        return slot.value

    def _parents(self) -> dict[FunctionNode, FunctionNode | None]:
        with self.memo.slot(("binding-parents",)) as slot:
            if slot.missing:
                slot.value = _function_parents(self.ctx.tree)
        return slot.value

    # -- is it a tensor at all? ---------------------------------------------------------------
    def _container(self, name: str, scope: Scope, stmt: ast.stmt) -> str | None:
        with self.memo.slot(("binding-container", scope.func, name)) as slot:
            if slot.missing:
                slot.value = self._container_evidence(name, scope)
        why = slot.value
        if why is not None and scope.func is not None:
            value = self._dominating_value(scope.func, stmt, name)
            if value is not None and container_value(self.ctx, value) is None and self.tensor.of(value, scope).tensor:
                return None  # by now the name holds a tensor (`xs = torch.stack(xs)`)
        return None if why is None else (f"`{name}` may be a Python container or a numpy array, not a tensor "
                                         f"({why}): the tensor rewrite does not apply to it")

    def _container_evidence(self, name: str, scope: Scope) -> str | None:
        func = scope.func
        for value in self.ctx.assignments.get(func, {}).get(name, []):
            why = container_value(self.ctx, value)
            if why is not None:
                return f"bound to {why} at line {value.lineno}"
        param = _param(self.ctx, func, name)
        if param is not None:
            ann = ast.unparse(param.annotation).replace(" ", "") if param.annotation is not None else ""
            if ann and ann not in _TENSOR_ANNOTATIONS and CONTAINER_ANNOTATION.search(ann):
                return f"a parameter annotated `{ann}`"
            if not ann and CONTAINER_NAME.search(name):
                return "a parameter named as a sequence"
        uses = self._uses(func).get(name) if self._mentions_container_use(func, name) else None
        if uses is not None:
            if uses.method:
                return f"`.{uses.method[0]}()` is called on it at line {uses.method[1]}"
            if uses.sequence:
                return f"passed as the sequence of `{uses.sequence[0]}` at line {uses.sequence[1]}"
            if uses.iterated and param is not None and not _tensor_annotated(param) and not any(
                    self.tensor.of(v, scope).tensor for v in self.ctx.assignments.get(func, {}).get(name, [])):
                return f"a parameter iterated at line {uses.iterated}"
        return None



    def _mentions_container_use(self, func: FunctionNode | None, name: str) -> bool:
        """Could the function's text use `name` as a container at all (a cheap look before the walk)?"""
        return func is None or mentions_container_use(self._text(func), name)

    def _text(self, func: FunctionNode) -> str:
        with self.memo.slot(("binding-text", func)) as slot:
            if slot.missing:
                lines = range(func.lineno, (func.end_lineno or func.lineno) + 1)
                slot.value = "\n".join(self.ctx.source_line(i) for i in lines)
        return slot.value

    def _uses(self, func: FunctionNode | None) -> dict[str, Uses]:
        with self.memo.slot(("binding-uses", func)) as slot:
            if slot.missing:
                slot.value = container_uses(self.ctx, func)
        return slot.value

    # -- can the caller see the object? --------------------------------------------------------
    def _parameter(self, name: str, scope: Scope, stmt: ast.stmt) -> str | None:
        func = scope.func
        if func is None or _param(self.ctx, func, name) is None or name in ("self", "cls"):
            return None
        if self._rebound_before(func, stmt, name):
            return None  # the name holds a tensor of this function's own by now
        lead = f"`{name}` is a parameter and `{func.name}`"
        tail = "the caller sees the in-place change; a rebinding would drop it"
        flow = self._returns(func)
        if flow.generator:
            return f"{lead} is a generator: {tail}"
        if not flow.returns and flow.falls_off:
            return f"{lead} returns None: {tail}"
        same = self._same_object(func, name)
        for ret in flow.returns:
            if ret is stmt or any(returns_object(ret.value, n) for n in same):
                continue
            what = "None" if ret.value is None or is_none(ret.value) else "something else"
            return f"{lead} returns {what} at line {ret.lineno}, not `{name}`: {tail}"
        if flow.falls_off:
            return f"{lead} can end without returning `{name}`: {tail}"
        return self._callers(func, name, lead, tail)

    def _callers(self, func: FunctionNode, name: str, lead: str, tail: str) -> str | None:
        """A call of `func` in this file whose caller can still see the object: the result is
        unused, or the argument passed for `name` is read again after the call."""
        method = isinstance(self._holder(func), ast.ClassDef)
        for site in self._calls().get(func.name, ()):
            if site.ignored:
                return f"{lead} is called at line {site.call.lineno} without using its result: {tail}"
            arg = argument(self.ctx, func, site.call, name, method)
            held = dotted(arg) if arg is not None else None
            if held is None or held in site.rebinds:
                continue  # a temporary nobody else holds, or `y = f(y)`: the caller takes the result
            later = self._read_after(site, held)
            if later is not None:
                return (f"{lead} is called at line {site.call.lineno} with `{held}`, which the caller reads again "
                        f"at line {later}: {tail}")
        return None

    def _read_after(self, site: CallSite, held: str) -> int | None:
        """The first line after the call's statement where its scope reads `held` (any read in a loop
        around the call counts: the next pass reads it after the call)."""
        reads = self._reads(site.owner).get(held, ())
        end = site.stmt.end_lineno or site.stmt.lineno
        after = [line for line in reads if line > end]
        if after:
            return after[0]
        if site.loop is not None:
            inside = [line for line in reads if site.loop.lineno <= line <= (site.loop.end_lineno or line)
                      and not site.stmt.lineno <= line <= end]
            return inside[0] if inside else None
        return None

    def _holder(self, func: FunctionNode) -> ast.AST | None:
        with self.memo.slot(("binding-holders",)) as slot:
            if slot.missing:
                slot.value = holders(self.ctx.tree)
        return slot.value.get(func)

    def _calls(self) -> dict[str, list[CallSite]]:
        with self.memo.slot(("binding-calls",)) as slot:
            if slot.missing:
                slot.value = call_sites(self.ctx.tree)
        return slot.value

    def _reads(self, owner: FunctionNode | None) -> dict[str, list[int]]:
        with self.memo.slot(("binding-reads", owner)) as slot:
            if slot.missing:
                slot.value = reads(owner.body if owner is not None else self.ctx.tree.body)
        return slot.value

    def _same_object(self, func: FunctionNode, name: str) -> tuple[str, ...]:
        """`name` and the names bound to its very object (`y = x`, `y = x.relu_()`,
        `y = torch.add(a, b, out=x)`): returning one of them hands the object back."""
        out = [name]
        for other, values in self.ctx.assignments.get(func, {}).items():
            if other != name and values and all(same_object(v, name) for v in values):
                out.append(other)
        return tuple(out)

    def _rebound_before(self, func: FunctionNode, stmt: ast.stmt, name: str) -> bool:
        """Does an assignment that runs before `stmt` on every path bind `name` to a tensor of
        the function's own (a result, not the parameter itself or a view of it)?"""
        value = self._dominating_value(func, stmt, name)
        return value is not None and not keeps_object(self.ctx, value, name)

    def _dominating_value(self, func: FunctionNode, stmt: ast.stmt, name: str) -> ast.AST | None:
        """The value of the last plain assignment to `name` that runs before `stmt` on every path
        (earlier in its block or in a block around it), else None."""
        parents = self._statement_parents(func)
        node: ast.stmt | None = stmt
        while node is not None and id(node) in parents:
            body, index, parent = parents[id(node)]
            for prev in reversed(body[:index]):
                value = assigned(prev, name)
                if value is not None:
                    return value
            if isinstance(parent, _FUNCS):
                return None
            node = parent
        return None

    def _statement_parents(self, func: FunctionNode) -> dict[int, tuple[list[ast.stmt], int, ast.AST]]:
        with self.memo.slot(("binding-stmt-parents", func)) as slot:
            if slot.missing:
                slot.value = statement_parents(func)
        return slot.value

    def _returns(self, func: FunctionNode) -> Flow:
        with self.memo.slot(("binding-returns", func)) as slot:
            if slot.missing:
                slot.value = flow(func)
        return slot.value

    # -- self.attr ---------------------------------------------------------------------------------
    def _class_attribute(self, target: ast.Attribute, scope: Scope) -> str | None:
        if not (isinstance(target.value, ast.Name) and target.value.id == "self" and scope.cls is not None):
            return None
        attr, cls = target.attr, scope.cls
        if attr not in _class_body_names(cls) or attr in self.ctx.class_attrs.get(cls, {}):
            return None
        return (f"`{attr}` is a class attribute of `{cls.name}`, shared by every instance: `self.{attr} = ...` "
                "would shadow it on one instance and leave the shared tensor unchanged")


# -- per-function tables (one walk each) ----------------------------------------------------------


class _Names:
    """The names a function binds in its own scope, and those it declares global/nonlocal."""

    __slots__ = ("bound", "declared")

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.declared: dict[str, str] = {}


def _own_names(func: FunctionNode, ctx: FileContext) -> _Names:
    """Its parameters, what its assignments bind (the file's table, walrus included), and what
    other statements bind: `x += ...`, imports, nested `def`/`class`, `except ... as`, `del`, `match`
    captures. Statements only: no expression holds a binding the table does not already have."""
    out = _Names()
    out.bound.update(p.arg for p in ctx.params(func))
    out.bound.update(ctx.assignments.get(func, {}))
    stack: list[ast.stmt] = list(func.body)
    while stack:
        stmt = stack.pop()
        t = type(stmt)
        if t is ast.Global or t is ast.Nonlocal:
            for n in stmt.names:
                out.declared[n] = "global" if t is ast.Global else "nonlocal"
        elif t is ast.AugAssign or t is ast.AnnAssign:
            if type(stmt.target) is ast.Name:
                out.bound.add(stmt.target.id)
        elif t in _FUNCS or t is ast.ClassDef:
            out.bound.add(stmt.name)
            continue  # its body is its own scope
        elif t is ast.Import or t is ast.ImportFrom:
            out.bound.update((a.asname or a.name).split(".", 1)[0] for a in stmt.names)
        elif t is ast.Delete:
            out.bound.update(n.id for tgt in stmt.targets for n in ast.walk(tgt) if type(n) is ast.Name)
        elif t is ast.Try or t is _TRY_STAR:
            out.bound.update(h.name for h in stmt.handlers if h.name)
        elif t is _MATCH:
            for case in stmt.cases:
                out.bound.update(n for p in ast.walk(case.pattern) for n in (getattr(p, "name", None),
                                                                             getattr(p, "rest", None)) if n)
        for block in nested_bodies(stmt, t):
            stack.extend(block)
    return out


def _function_parents(tree: ast.Module) -> dict[FunctionNode, FunctionNode | None]:
    """Each function -> the function it is defined in (None at module or class level)."""
    out: dict[FunctionNode, FunctionNode | None] = {}
    stack: list[tuple[ast.AST, FunctionNode | None]] = [(tree, None)]
    while stack:
        node, owner = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _FUNCS):
                out[child] = owner
                stack.append((child, child))
            else:
                stack.append((child, owner))
    return out


def _class_body_names(cls: ast.ClassDef) -> set[str]:
    """Names the class body binds directly (class attributes and methods)."""
    out: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for tgt in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                out.update(n.id for n in ast.walk(tgt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        elif isinstance(stmt, (*_FUNCS, ast.ClassDef)):
            out.add(stmt.name)
    return out


def _param(ctx: FileContext, func: FunctionNode | None, name: str) -> ast.arg | None:
    if func is None:
        return None
    return next((p for p in ctx.params(func) if p.arg == name), None)


def _tensor_annotated(param: ast.arg) -> bool:
    return param.annotation is not None and ast.unparse(param.annotation).replace(" ", "") in _TENSOR_ANNOTATIONS
