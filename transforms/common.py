"""Helpers the rules share: statement forms of a call, receivers, gating by evidence."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from inplace_fix.transforms.context import FileContext, Site, dotted


@dataclass(frozen=True)
class CallForm:
    """How a call's result is used by its statement.

    kind: "stmt" (`x.add_(y)` alone), "assign" (`t = x.add_(y)`, single target),
    "return" (`return x.add_(y)`), "nested" (anything else: refused).
    """

    kind: str
    target: ast.AST | None = None


def call_form(site: Site) -> CallForm:
    stmt, call = site.stmt, site.node
    if isinstance(stmt, ast.Expr) and stmt.value is call:
        return CallForm("stmt")
    if isinstance(stmt, ast.Assign) and stmt.value is call and len(stmt.targets) == 1:
        return CallForm("assign", stmt.targets[0])
    if isinstance(stmt, ast.Return) and stmt.value is call:
        return CallForm("return")
    return CallForm("nested")


def is_chain(node: ast.AST | None) -> bool:
    """A Name or attribute chain (`x`, `self.h`): safe to evaluate twice, safe to assign to."""
    return node is not None and dotted(node) is not None


def shares_line(ctx: FileContext, stmt: ast.stmt) -> bool:
    """Another statement on the same physical line (`a; b`): wrapping or inserting is refused."""
    block = ctx.block_of.get(stmt)
    if block is None:
        return False
    body, i = block
    for j in (i - 1, i + 1):
        if 0 <= j < len(body):
            other = body[j]
            if other.lineno <= stmt.lineno <= (other.end_lineno or other.lineno) or \
                    stmt.lineno <= other.lineno <= (stmt.end_lineno or stmt.lineno):
                return True
    return False


def in_suite(ctx: FileContext, stmt: ast.stmt) -> bool:
    """The statement is the body of a one-line compound (`if c: x += 1`)."""
    block = ctx.block_of.get(stmt)
    if block is None:
        return False
    body, i = block
    first = body[0]
    # a one-line suite starts on the header line: detect via the source text before it
    line = ctx.source_line(first.lineno)
    prefix = line[: ctx.char_col(first.lineno, first.col_offset)]
    return prefix.strip() != ""


_MODULE_CONVENTIONS = frozenset({"torch", "F", "nn", "np", "numpy", "math", "init"})


def is_module_path(ctx: FileContext, node: ast.AST) -> bool:
    """`torch`, `F`, `torch.nn.functional`, `np`: a module, not a tensor receiver."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and (node.id in ctx.aliases or node.id in _MODULE_CONVENTIONS)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def writes_in_place(stmt: ast.stmt, name: str) -> bool:
    """`name op= v`, `name[i] = v`, `name[i] op= v`, `name.op_(...)` (chained too)."""
    if isinstance(stmt, ast.AugAssign):
        return _root_name(stmt.target) == name
    if isinstance(stmt, ast.Assign):
        return len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Subscript) \
            and _root_name(stmt.targets[0]) == name
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        while isinstance(func, ast.Attribute) and func.attr.endswith("_"):
            recv = func.value
            if isinstance(recv, ast.Name):
                return recv.id == name
            if not isinstance(recv, ast.Call):
                return False
            func = recv.func
    return False


def fresh_before(ctx: FileContext, ev, stmt: ast.stmt, name: str) -> bool:
    """Is `stmt` preceded in its block (through other in-place writes into `name`) by
    `name = <factory or .clone()>`? Then nothing can have saved the tensor yet: the write
    is harmless (`buf = torch.zeros(n); buf[0] = 1`, `x = x.clone(); x += y`)."""
    block = ctx.block_of.get(stmt)
    if block is None:
        return False
    body, i = block
    for j in range(i - 1, -1, -1):
        prev = body[j]
        if writes_in_place(prev, name):
            continue
        if isinstance(prev, ast.Assign) and len(prev.targets) == 1 and isinstance(prev.targets[0], ast.Name) \
                and prev.targets[0].id == name:
            return ev.fresh_producer(prev.value)
        return False
    return False


def comment_near_arg(ctx: FileContext, call: ast.Call, index: int) -> bool:
    """Is there a comment between argument `index`'s neighbours (which dropping it could lose)?

    `index` counts positional arguments first, then keywords (source order for normal calls).
    """
    args: list[ast.AST] = [*call.args, *call.keywords]
    start_node = args[index - 1] if index > 0 else call.func
    lo_line, lo_col = start_node.end_lineno, start_node.end_col_offset
    if index + 1 < len(args):
        hi_line, hi_col = args[index + 1].lineno, args[index + 1].col_offset
    else:
        hi_line, hi_col = call.end_lineno, call.end_col_offset
    if lo_line == hi_line:
        return "#" in ctx.source_line(lo_line).encode("utf-8")[lo_col:hi_col].decode("utf-8", "replace")
    return any("#" in ctx.source_line(n) for n in range(lo_line, hi_line + 1))
