"""How an object a function was handed flows back out: its returns, its callers in the file.

A rebinding of a parameter is invisible to the caller only when the caller takes the new
object back: the function returns it on every path, and no call in the file ignores the
result or reads the argument it passed again. These are the per-function and per-file
tables that answer it, plus which assignments keep a parameter's object (a view, the tensor
itself) and which make a new one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from inplace_fix.transforms.context import FileContext, FunctionNode, dotted
from inplace_fix.transforms.evidence.aliasing import ALIASING_METHODS, ALIASING_TORCH

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def statement_parents(func: FunctionNode) -> dict[int, tuple[list[ast.stmt], int, ast.AST]]:
    """id(statement) -> (its block, its index there, the compound statement or function holding
    the block; for an `except` or `case` body, the `try` or `match`)."""
    out: dict[int, tuple[list[ast.stmt], int, ast.AST]] = {}
    stack: list[ast.AST] = [func]
    while stack:
        node = stack.pop()
        blocks = [getattr(node, f, None) for f in ("body", "orelse", "finalbody")]
        blocks += [h.body for h in getattr(node, "handlers", ())]
        blocks += [c.body for c in getattr(node, "cases", ())]
        for block in blocks:
            if not isinstance(block, list):
                continue
            for i, child in enumerate(block):
                out[id(child)] = (block, i, node)
                if not isinstance(child, (*_FUNCS, ast.ClassDef)):
                    stack.append(child)
    return out


def assigned(stmt: ast.stmt, name: str) -> ast.AST | None:
    """The value `stmt` binds to `name` when it is a plain assignment to it, else None."""
    if isinstance(stmt, ast.Assign):
        if any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
            return stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        if isinstance(stmt.target, ast.Name) and stmt.target.id == name:
            return stmt.value
    return None


@dataclass(frozen=True)
class Flow:
    """A function's own `return` statements, whether it can end without one, whether it yields."""

    returns: tuple[ast.Return, ...]
    falls_off: bool
    generator: bool


def flow(func: FunctionNode) -> Flow:
    returns: list[ast.Return] = []
    generator = False
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Return):
            returns.append(node)
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            generator = True
        stack.extend(ast.iter_child_nodes(node))
    return Flow(tuple(sorted(returns, key=lambda r: r.lineno)), not always_leaves(func.body), generator)


def always_leaves(body: list[ast.stmt]) -> bool:
    """Does every path through `body` end in `return` or `raise`?"""
    for stmt in body:
        if isinstance(stmt, (ast.Return, ast.Raise)):
            return True
        if isinstance(stmt, ast.If) and always_leaves(stmt.body) and always_leaves(stmt.orelse):
            return True
        if isinstance(stmt, (ast.With, ast.AsyncWith)) and always_leaves(stmt.body):
            return True
        if isinstance(stmt, ast.Try) and (always_leaves(stmt.finalbody) or (
                always_leaves(stmt.body) and all(always_leaves(h.body) for h in stmt.handlers)
                and (not stmt.orelse or always_leaves(stmt.orelse)))):
            return True
        if isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant) and stmt.test.value \
                and not any(isinstance(n, ast.Break) for n in ast.walk(stmt)):
            return True
    return False


def returns_object(value: ast.AST | None, name: str) -> bool:
    """Does `return value` hand the object `name` back (itself, in a tuple/list/dict display, or
    through an in-place chain on it, which returns its receiver)?"""
    if value is None:
        return False
    if isinstance(value, ast.Name):
        return value.id == name
    if isinstance(value, (ast.Tuple, ast.List)):
        return any(returns_object(e.value if isinstance(e, ast.Starred) else e, name) for e in value.elts)
    if isinstance(value, ast.Dict):
        return any(returns_object(v, name) for v in value.values)
    if isinstance(value, ast.IfExp):
        return returns_object(value.body, name) and returns_object(value.orelse, name)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr.endswith("_") \
            and not value.func.attr.endswith("__"):
        return returns_object(value.func.value, name)
    return False  # a view or any other result is another object


def keeps_object(ctx: FileContext, value: ast.AST, name: str) -> bool:
    """Can `value` be the object `name` holds, or a view of its storage (`x`, `x[:, 1:]`,
    `x.view(...)`, `x.contiguous()`, `x.relu_()`, `torch.flatten(x)`, `F.relu(x, inplace=True)`)?
    A write through it still reaches the caller's tensor. Any other result is a new tensor."""
    t = type(value)
    if t is ast.Name:
        return value.id == name
    if t is ast.Subscript or t is ast.Starred:
        return keeps_object(ctx, value.value, name)
    if t is ast.Attribute:
        return value.attr in ("data", "T", "mT", "H", "real", "imag") and keeps_object(ctx, value.value, name)
    if t is ast.IfExp:
        return keeps_object(ctx, value.body, name) or keeps_object(ctx, value.orelse, name)
    if t is not ast.Call:
        return False
    func = value.func
    if any(kw.arg in ("out", "inplace") for kw in value.keywords) and any(
            keeps_object(ctx, a, name) for a in [*value.args[:1], *(kw.value for kw in value.keywords)]):
        return True
    if isinstance(func, ast.Attribute) and not (ctx.qualname(func) or "").startswith("torch."):
        if func.attr in ALIASING_METHODS or func.attr.endswith("_") and not func.attr.endswith("__"):
            return keeps_object(ctx, func.value, name)
        return False
    last = (ctx.qualname(func) or "").rsplit(".", 1)[-1]
    return (last in ALIASING_TORCH or last.endswith("_")) and bool(value.args) \
        and keeps_object(ctx, value.args[0], name)


def same_object(value: ast.AST, name: str) -> bool:
    """Is `value` the object `name` holds: the name itself, an in-place chain on it (which returns
    its receiver), or a call writing into it (`out=name`, `f(name, inplace=True)`)?"""
    if isinstance(value, ast.Name):
        return value.id == name
    if not isinstance(value, ast.Call):
        return False
    if returns_object(value, name):
        return True
    for kw in value.keywords:
        if kw.arg == "out" and isinstance(kw.value, ast.Name) and kw.value.id == name:
            return True
        if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
            return bool(value.args) and isinstance(value.args[0], ast.Name) and value.args[0].id == name
    return False


def is_none(value: ast.AST) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


@dataclass(frozen=True)
class CallSite:
    """A call by name somewhere in the file: the call, its statement, the function holding it
    (None: module level), the innermost loop around it there, whether its result is unused, and
    what its statement rebinds to the result (`y = f(y)`)."""

    call: ast.Call
    stmt: ast.stmt
    owner: FunctionNode | None
    loop: ast.stmt | None
    ignored: bool
    rebinds: frozenset[str]

    @classmethod
    def of(cls, call: ast.Call, stmt: ast.stmt, owner: FunctionNode | None, loop: ast.stmt | None) -> "CallSite":
        value = stmt.value.value if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Await) else \
            getattr(stmt, "value", None)
        targets = stmt.targets if isinstance(stmt, ast.Assign) and stmt.value is call else []
        rebinds = frozenset(d for t in targets for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
                            if (d := dotted(e)) is not None)
        return cls(call, stmt, owner, loop, isinstance(stmt, ast.Expr) and value is call, rebinds)


def call_sites(tree: ast.Module) -> dict[str, list[CallSite]]:
    """Callee name (`f` of `f(...)`, `self.f(...)`, `obj.f(...)`) -> every call of it in the file."""
    out: dict[str, list[CallSite]] = {}
    stack: list[tuple[ast.stmt, FunctionNode | None, ast.stmt | None]] = [(s, None, None) for s in tree.body]
    while stack:
        stmt, owner, loop = stack.pop()
        if isinstance(stmt, _FUNCS):
            stack.extend((s, stmt, None) for s in stmt.body)
            parts: list[ast.AST] = [*stmt.decorator_list, *stmt.args.defaults]
        elif isinstance(stmt, ast.ClassDef):
            stack.extend((s, owner, None) for s in stmt.body)
            parts = [*stmt.decorator_list, *stmt.bases]
        else:
            inner = stmt if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)) else loop
            blocks = [getattr(stmt, f, None) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(stmt, "handlers", ())] + [c.body for c in getattr(stmt, "cases", ())]
            for block in blocks:
                if isinstance(block, list):
                    stack.extend((s, owner, inner) for s in block)
            parts = [c for c in ast.iter_child_nodes(stmt) if not isinstance(c, (ast.stmt, ast.excepthandler))
                     and type(c).__name__ != "match_case"]
        for part in parts:
            for node in ast.walk(part):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) \
                        else None
                    if name is not None:
                        out.setdefault(name, []).append(CallSite.of(node, stmt, owner, loop))
    return out


def holders(tree: ast.Module) -> dict[FunctionNode, ast.AST]:
    """Each function -> the class or function whose body defines it (the module for top-level ones)."""
    out: dict[FunctionNode, ast.AST] = {}
    for node in ast.walk(tree):
        for child in getattr(node, "body", ()) if isinstance(node, (ast.Module, ast.ClassDef, *_FUNCS)) else ():
            if isinstance(child, _FUNCS):
                out[child] = node
    return out


def argument(ctx: FileContext, func: FunctionNode, call: ast.Call, name: str, method: bool) -> ast.AST | None:
    """The expression `call` passes for parameter `name` of `func` (None when not passed or not known)."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    positional = [p.arg for p in (*func.args.posonlyargs, *func.args.args)]
    static = any((dotted(d) or "").endswith("staticmethod") for d in func.decorator_list)
    if method and not static and isinstance(call.func, ast.Attribute):
        positional = positional[1:]  # `obj.f(a)` passes `a` for the parameter after `self`
    if name not in positional:
        return None
    index = positional.index(name)
    if any(isinstance(a, ast.Starred) for a in call.args[:index + 1]) or index >= len(call.args):
        return None
    return call.args[index]


def reads(body: list[ast.stmt]) -> dict[str, list[int]]:
    """Dotted name (`y`, `self.h`) -> sorted lines where this scope reads it (nested scopes aside)."""
    out: dict[str, list[int]] = {}
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            d = dotted(node)
            if d is not None:
                out.setdefault(d, []).append(node.lineno)
        stack.extend(ast.iter_child_nodes(node))
    for lines in out.values():
        lines.sort()
    return out
