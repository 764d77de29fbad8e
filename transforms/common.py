"""Helpers the rules share: statement forms of a call, receivers, gating by evidence."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from inplace_fix.transforms.base import Finding, FixSafety
from inplace_fix.transforms.context import FileContext, Site, dotted, nested_bodies
from inplace_fix.transforms.cstutil import has_comment
from inplace_fix.transforms.evidence.comments import keep_request
from inplace_fix.transforms.lazycst import cst


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


# -- index expressions and Python containers (subscript targets) -----------------------

_PURE_NODES = (ast.Name, ast.Constant, ast.Slice, ast.Tuple, ast.BinOp, ast.UnaryOp, ast.Attribute,
               ast.Subscript, ast.operator, ast.unaryop, ast.expr_context)


def pure_index(node: ast.AST | None) -> bool:
    """Names, constants, attribute chains, arithmetic, slices, tuples of them: an index
    expression that evaluating twice (`x[i] = x[i] + v`) cannot change or double."""
    if node is None:
        return True
    return all(isinstance(n, _PURE_NODES) for n in ast.walk(node))


def _is_list_value(value: ast.AST) -> bool:
    if isinstance(value, (ast.List, ast.ListComp)):
        return True
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        return isinstance(value.left, ast.List) or isinstance(value.right, ast.List)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list"


def python_list(ctx: FileContext, name: str, func) -> bool:
    """Is every binding of `name` in `func` a Python list (`[...]`, a comprehension, `list(...)`,
    `[x] * n`)? Rebinding an element of a list (`xs[k] = xs[k] + v`) writes into no tensor."""
    if func is not None and name in {a.arg for a in ctx.params(func)}:
        return False
    values = ctx.assignments.get(func, {}).get(name, [])
    return bool(values) and all(_is_list_value(v) for v in values)


def reads_name(node: ast.AST, name: str) -> bool:
    """Does the expression read the name `name` anywhere?"""
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def loop_of(ctx: FileContext, stmt: ast.stmt, name: str) -> ast.For | None:
    """The innermost enclosing `for` (in the same function) whose target binds `name`."""
    for loop in reversed(_enclosing_loops(ctx).get(id(stmt), ())):
        if name in _target_names(loop.target):
            return loop
    return None


_STATEMENT_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # a loop outside does not hold their body


def _enclosing_loops(ctx: FileContext) -> dict[int, tuple[ast.For, ...]]:
    """Every statement's enclosing `for` loops, outermost first, within its own scope.

    One walk per file, only when a rule asks (so `loop_of` costs no more per call on a
    file with thousands of loops: linear, not loops x statements).
    """
    cached = ctx._cache.get("enclosing_loops")
    if cached is not None:
        return cached
    out: dict[int, tuple[ast.For, ...]] = {}
    stack: list[tuple[ast.stmt, tuple[ast.For, ...]]] = [(stmt, ()) for stmt in reversed(ctx.tree.body)]
    while stack:  # statements only: no expression holds a statement, so the rest of the tree is skipped
        node, loops = stack.pop()
        out[id(node)] = loops
        t = type(node)
        if t is ast.For:
            inside = loops + (node,)
            stack.extend((child, inside) for child in reversed([*node.body, *node.orelse]))
        elif t in _STATEMENT_SCOPES:
            stack.extend((child, ()) for child in reversed(node.body))
        else:
            for body in reversed(nested_bodies(node, t)):
                stack.extend((child, loops) for child in reversed(body))
    ctx._cache["enclosing_loops"] = out
    return out


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


# -- the "write into a fresh copy" form (libcst) ------------------------------------------


def fresh_name(module_code: str, base: str) -> str:
    """`z_new` (or `z_new2`, ...): a name the module does not use yet."""
    name, n = f"{base}_new", 2
    while re.search(rf"\b{re.escape(name)}\b", module_code):
        name, n = f"{base}_new{n}", n + 1
    return name


def subscript_root_name(target: cst.BaseExpression) -> str | None:
    """`z` of `z[..., 2:]` / `z[0][1]`; None when the root is not a plain name."""
    while isinstance(target, cst.Subscript):
        target = target.value
    return target.value if isinstance(target, cst.Name) else None


def with_root(target: cst.Subscript, name: str) -> cst.Subscript:
    """The same subscript chain on another root name (`z[..., 2:]` -> `z_new[..., 2:]`)."""
    if isinstance(target.value, cst.Subscript):
        return target.with_changes(value=with_root(target.value, name))
    return target.with_changes(value=cst.Name(name))


def cst_reads_name(node: cst.CSTNode, name: str) -> bool:
    """Does the libcst expression mention the name `name`?"""
    found = False

    class _Finder(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            nonlocal found
            found = found or n.value == name

    node.visit(_Finder())
    return found


def _assign(name: str, value: cst.BaseExpression) -> cst.Assign:
    return cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=value)


def _line(small: cst.BaseSmallStatement, leading: tuple = ()) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[small], leading_lines=leading)


def before_write(line: cst.SimpleStatementLine, before: list[cst.BaseSmallStatement],
                 write: cst.SimpleStatementLine, after: list[cst.BaseSmallStatement] = ()) -> cst.FlattenSentinel:
    """`before` lines, the write, `after` lines; blank lines and comments above the original
    line stay above the write when they hold a comment, above the first new line otherwise."""
    if has_comment(*line.leading_lines):
        head = [_line(s) for s in before]
        written = write.with_changes(leading_lines=line.leading_lines)
    else:
        head = [_line(s, line.leading_lines if i == 0 else ()) for i, s in enumerate(before)]
        written = write.with_changes(leading_lines=() if before else line.leading_lines)
    return cst.FlattenSentinel([*head, written, *[_line(s) for s in after]])


def clone_then_write(line: cst.SimpleStatementLine, root: str) -> cst.FlattenSentinel:
    """`root = root.clone()` before the write: the write gets its own tensor."""
    clone = cst.Call(func=cst.Attribute(value=cst.Name(root), attr=cst.Name("clone")))
    return before_write(line, [_assign(root, clone)], line)


def write_into_copy(line: cst.SimpleStatementLine, root: str, fresh: str,
                    write: cst.BaseSmallStatement) -> cst.FlattenSentinel:
    """`fresh = root.clone()`, `write` (whose target is on `fresh`, whose value still reads
    `root`), `root = fresh`: the value is computed from the original tensor, which nothing
    overwrites, and the write goes to a tensor nothing has saved."""
    clone = cst.Call(func=cst.Attribute(value=cst.Name(root), attr=cst.Name("clone")))
    body = line.with_changes(body=[write])
    return before_write(line, [_assign(fresh, clone)], body, [_assign(root, cst.Name(fresh))])


def bound_names(target: cst.BaseExpression) -> set[str]:
    """Every name a `for` target binds (`channel` in `for channel, m, s in zip(img, ...)`)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {name for element in target.elements for name in bound_names(element.value)}
    if isinstance(target, cst.StarredElement):
        return bound_names(target.value)
    return set()


def declined(finding: Finding, reason: str | None) -> Finding:
    """The same finding with no automatic fix, and why (a rewrite there would change what the
    program computes, or the author asked to keep the operation); unchanged when `reason` is
    None or the finding has no fix anyway."""
    if reason is None or not finding.fixable:
        return finding
    note = "; ".join(x for x in (finding.note, reason) if x)
    return replace(finding, fixable=False, safety=FixSafety.NONE, note=note, no_fix=reason)


def decline_reason(ctx: FileContext, ev, stmt: ast.stmt, scope, rebound: tuple = ()) -> str | None:
    """Why the rewrite of `stmt`, which rebinds each expression of `rebound` (names, attribute
    chains), must not be offered: a comment asks to keep the operation (evidence/comments.py),
    or a rebinding would not reach every reader of the old object (evidence/binding.py)."""
    asked = keep_request(ctx, stmt)
    if asked is not None:
        return asked
    for target in rebound:
        why = ev.rebinding_blocker(target, scope, stmt)
        if why is not None:
            return why
    return None
