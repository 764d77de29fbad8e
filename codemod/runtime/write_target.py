"""Name the tensor a write wrote from the expression at the write site.

Why: the line's text is not enough: in `y = h.add_(1)` or `out = F.relu(h, inplace=True)` the
tensor written is `h`, not the assignment's target, and in `loss = (h * w).sum() + h.mul_(2).sum()`
a regex finds `loss`. The site's instruction carries its exact source span (Python 3.11+
`co_positions`); the node with that span says what was written: the receiver of
`h.add_(...)`, the target of `h += ...`, the base of `h[i] = ...`, the first argument of
`torch.relu_(h)` / `F.relu(h, inplace=True)`. Standard library only (this runs in the
user's process).
"""
from __future__ import annotations

import ast
import linecache
from functools import lru_cache
from typing import Any, Optional

# methods whose result shares the receiver's storage: `x.view(-1).add_(1)` writes `x`
VIEW_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "narrow", "select", "t", "transpose", "permute",
    "expand", "expand_as", "squeeze", "unsqueeze", "flatten", "unflatten", "diagonal", "unfold",
    "detach", "as_strided", "movedim", "moveaxis", "swapaxes", "swapdims", "unbind", "split",
    "chunk", "view_as_real", "view_as_complex", "contiguous",
})
# attributes that are the same memory under another name: `h.data[0] = 0` writes `h`
VIEW_ATTRS = frozenset({"data", "T", "mT", "H", "mH", "real", "imag"})
_NOT_A_TENSOR_NAME = frozenset({"self", "cls"})


def written_name(site: Any) -> Optional[str]:
    """The variable that holds the tensor written at `site` ((code, lasti)), or None."""
    span = _span(site)
    if span is None:
        return None
    parsed = _parsed(site[0].co_filename)
    if parsed is None:
        return None
    tree, imported = parsed
    expr = _written_expr(_nodes_with_span(tree, span), imported)
    return _name_of(expr, imported) if expr is not None else None


def _span(site: Any) -> Optional[tuple[int, int, int, int]]:
    if site is None:
        return None
    code, lasti = site
    try:
        span = list(code.co_positions())[lasti // 2]
    except Exception:  # Python < 3.11 has no positions: the caller falls back to the line's text
        return None
    return span if all(x is not None for x in span) else None


@lru_cache(maxsize=32)
def _parsed(filename: str) -> Optional[tuple[ast.AST, frozenset[str]]]:
    """The file's tree and the names its imports bind (`torch`, `F`, `nn`, `init`)."""
    text = "".join(linecache.getlines(filename))
    if not text:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return tree, frozenset(names)


def _nodes_with_span(tree: ast.AST, span: tuple[int, int, int, int]) -> list[ast.AST]:
    line, end_line, col, end_col = span
    return [n for n in ast.walk(tree)
            if getattr(n, "lineno", None) == line and getattr(n, "end_lineno", None) == end_line
            and getattr(n, "col_offset", None) == col and getattr(n, "end_col_offset", None) == end_col]


def _written_expr(nodes: list[ast.AST], imported: frozenset[str]) -> Optional[ast.AST]:
    """The expression written by the instruction whose span these nodes have."""
    for node in nodes:
        if isinstance(node, ast.AugAssign):
            return node.target
    for node in nodes:
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            return node
    for node in nodes:
        if isinstance(node, ast.Call):
            return _written_by_call(node, imported)
    return None


def _written_by_call(call: ast.Call, imported: frozenset[str]) -> Optional[ast.AST]:
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if "out" in keywords:
        return keywords["out"]
    first = call.args[0] if call.args else keywords.get("input", keywords.get("tensor"))
    if _is_true(keywords.get("inplace")):
        return first
    func = call.func
    if isinstance(func, ast.Attribute) and not _is_namespace(func.value, imported):
        return func.value  # a method: `h.add_(1)`, `self.w.normal_(0, 0.01)`
    return first  # a function: `torch.relu_(h)`, `nn.init.zeros_(m.bias)`, `relu_(h)`


def _is_true(value: Optional[ast.AST]) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


def _is_namespace(expr: ast.AST, imported: frozenset[str]) -> bool:
    """`torch`, `F`, `nn.init`: a dotted name rooted at an imported module, not a tensor."""
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id in imported


def _name_of(expr: ast.AST, imported: frozenset[str]) -> Optional[str]:
    """`h`, `self.w`, `m.bias` for the expression holding the written tensor; None for a temporary."""
    if isinstance(expr, ast.Subscript):
        return _name_of(expr.value, imported)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in VIEW_METHODS:
        return _name_of(expr.func.value, imported)
    if isinstance(expr, ast.Attribute) and expr.attr in VIEW_ATTRS:
        return _name_of(expr.value, imported)
    dotted = _dotted(expr)
    if dotted is None or dotted.split(".")[0] in imported or dotted in _NOT_A_TENSOR_NAME:
        return None
    return dotted


def _dotted(expr: ast.AST) -> Optional[str]:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))
