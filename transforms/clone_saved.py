"""Clone at the saving site: make autograd save a private copy of the tensor a later write changes.

Not a lint rule (nothing here is wrong on its own): a fix the runtime fixer offers for every
saved-tensor problem. The runtime says which operand of the saving op was saved (or that its
result was); the operand, or the result, gets `.clone()` where the op runs:

    z = u * self.scale          ->  z = u * self.scale.clone()
    g = u.sigmoid()             ->  g = u.sigmoid().clone()
    s = self.table.weight @ q   ->  s = self.table.weight.clone() @ q
    f = self.relu(self.conv(x)) ->  f = self.relu(self.conv(x)).clone()  # nn.ReLU(inplace=True)

The op then computes the same values from an identical copy, and the later in-place write
changes only the original: exactly what the reference run does (clone on write), so the
fix verifies wherever the reference is right. Its cost is one copy of that tensor per
forward pass, which the title says.

An in-place op saves its result, the very tensor it wrote: a clone of its input would be
written and saved in the input's stead, so the runtime names the result and the result
is cloned (the program goes on with the copy, autograd keeps the original).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from inplace_fix.transforms.base import FixSafety, Rule, Span

if TYPE_CHECKING:
    import libcst as cst

    from inplace_fix.transforms.rewriter import RewriteContext

CODE = "clone-saved"
# functions called through these module names take the tensor as their first argument
_NAMESPACES = ("torch", "F", "functional", "nn", "np", "math")


@dataclass(frozen=True)
class CloneSite:
    """The node to wrap in `.clone()`, and the words a report shows for it."""

    span: Span
    text: str  # the expression cloned, as written
    saving: str  # the saving expression, as written
    role: str  # input | output


class CloneSaved(Rule):
    """The clone-at-the-saving-site rewrite (targets are whole spans: `a` in `a * b` is not `a * b`)."""

    code = CODE
    name = "clone-at-saving-site"
    message = "clone the tensor where autograd saves it"
    explanation = __doc__ or ""
    safety = FixSafety.SAFE
    expr_nodes = ("Name", "Attribute", "Subscript", "Call", "BinaryOperation")
    targets_spans = True
    title = "clone the saved tensor where it is saved (one copy of it per forward)"
    hand_fix = "clone the saved tensor where it is saved (`.clone()`), or make the later write out of place"

    def candidates(self, ctx: Any) -> list:
        return []  # found from runtime sites only (`clone_site`), never by scanning

    def find(self, ctx: Any) -> list:
        return []

    def fix_expr(self, original: "cst.CSTNode", updated: "cst.CSTNode", rc: "RewriteContext") -> "cst.CSTNode | None":
        import libcst as cst

        value = updated
        if isinstance(value, cst.BinaryOperation) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return cst.Call(func=cst.Attribute(value=value, attr=cst.Name("clone")))


def clone_site(source: str, saved: Mapping[str, Any]) -> CloneSite | str:
    """Where to put `.clone()` for the runtime's `saved_at` site, or why nowhere.

    `saved` carries the saving expression's extent (`line`, `col`, `end_line`, `end_col`)
    and what the saved tensor was to the op (`saved`: input | output, `saved_arg`,
    `saved_in_library`), as the runtime recorded them.
    """
    role = saved.get("saved")
    if role not in ("input", "output"):
        return "the runtime did not record which tensor the saving op kept"
    if saved.get("end_line") is None or saved.get("end_col") is None:
        return "the runtime did not record the saving expression's extent"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        return f"the file does not parse ({exc})"
    lines = source.splitlines()
    want = (int(saved["line"]), int(saved["col"]), int(saved["end_line"]), int(saved["end_col"]))
    node = next((n for n in ast.walk(tree) if isinstance(n, (ast.BinOp, ast.Call)) and _span(n, lines) == want),
                None)
    if node is None:
        return "no call or operator at the saving site's extent"
    target = node if role == "output" else _operand(node, saved.get("saved_arg"), bool(saved.get("saved_in_library")),
                                                    str(saved.get("op") or ""))
    if target is None:
        return "the saved tensor is not an operand written at the saving site"
    if isinstance(target, (ast.Constant, ast.Starred, ast.Lambda)):
        return "the saved operand is not a tensor expression"
    if _is_clone(target) or (role == "input" and _is_clone(node)):
        return "the saved tensor is already a clone there"
    return CloneSite(Span(*_span(target, lines)), _text(target, lines), _text(node, lines), role)


def _operand(node: ast.AST, arg: Any, in_library: bool, op: str) -> ast.AST | None:
    """The source operand that is argument `arg` of the op the runtime saw at `node`."""
    if not isinstance(arg, int):
        return None
    if isinstance(node, ast.BinOp):
        # Python calls the tensor's own method: `2 * a` and `a.__rsub__(1)` pass `a` first
        swapped = op.startswith("__r") or _is_number(node.left)
        operands = (node.right, node.left) if swapped else (node.left, node.right)
        return operands[arg] if arg in (0, 1) else None
    if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    if in_library:  # a module or library call: only its first argument is certain to be the op's first
        return node.args[0] if arg == 0 and node.args else None
    func = node.func
    if isinstance(func, ast.Attribute) and not _is_namespace(func.value):  # a method: the receiver is arg 0
        if arg == 0:
            return func.value
        return node.args[arg - 1] if arg - 1 < len(node.args) else None
    return node.args[arg] if arg < len(node.args) else None


def _is_clone(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "clone")


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex))


def _is_namespace(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in _NAMESPACES


def _char(lines: list[str], line: int, byte_col: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _span(node: ast.AST, lines: list[str]) -> tuple[int, int, int, int]:
    return (node.lineno, _char(lines, node.lineno, node.col_offset),
            node.end_lineno or node.lineno, _char(lines, node.end_lineno or node.lineno, node.end_col_offset or 0))


def _text(node: ast.AST, lines: list[str]) -> str:
    line, col, end_line, end_col = _span(node, lines)
    if line == end_line:
        return lines[line - 1][col:end_col]
    return " ".join([lines[line - 1][col:].strip(), *(x.strip() for x in lines[line:end_line - 1]),
                     lines[end_line - 1][:end_col].strip()])
