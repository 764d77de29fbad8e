"""Small libcst helpers shared by the rules' rewrites (libcst is imported on first use)."""

from __future__ import annotations

from functools import cache
from typing import Sequence

from inplace_fix.transforms.lazycst import cst


@cache
def _empty_module() -> cst.Module:
    return cst.Module(body=[])


@cache
def _precedence() -> dict[type, int]:
    """Binding strength of binary operators (higher binds tighter), for parenthesising."""
    return {
        cst.BitOr: 4, cst.BitXor: 5, cst.BitAnd: 6, cst.LeftShift: 7, cst.RightShift: 7,
        cst.Add: 8, cst.Subtract: 8, cst.Multiply: 9, cst.MatrixMultiply: 9, cst.Divide: 9,
        cst.FloorDivide: 9, cst.Modulo: 9, cst.Power: 11,
    }


@cache
def _aug_to_bin() -> dict[type, type]:
    return {
        cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
        cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
        cst.PowerAssign: cst.Power, cst.MatrixMultiplyAssign: cst.MatrixMultiply, cst.BitAndAssign: cst.BitAnd,
        cst.BitOrAssign: cst.BitOr, cst.BitXorAssign: cst.BitXor, cst.LeftShiftAssign: cst.LeftShift,
        cst.RightShiftAssign: cst.RightShift,
    }


def binary_operator_for(augmented: type) -> type:
    """The libcst binary operator class of an augmented-assignment operator class
    (`AddAssign` -> `Add`); KeyError for anything else. Built on first use, like every
    libcst table here, so importing this module does not import libcst."""
    return _aug_to_bin()[augmented]


def code(node: cst.CSTNode) -> str:
    """Source text of a node (fragment rendering; newlines as in the node)."""
    return _empty_module().code_for_node(node)


def has_comment(*nodes: object) -> bool:
    """Whether any of these nodes/whitespace pieces holds a comment (which we must not drop)."""
    for n in nodes:
        if isinstance(n, cst.CSTNode) and "#" in code(n):
            return True
    return False


def dotted(node: cst.CSTNode) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def is_reevaluable(node: cst.BaseExpression) -> bool:
    """A Name or attribute chain: evaluating it twice has no side effects we could double."""
    return dotted(node) is not None and not node.lpar


def parenthesize_operand(value: cst.BaseExpression, op: type) -> cst.BaseExpression:
    """Wrap `value` in parentheses when it would bind differently as the right operand of `op`.

    Equal precedence is wrapped too: `x += a + b` must stay `x + (a + b)`, since float
    addition is not associative and the forward values must not move.
    """
    if value.lpar:
        return value
    precedence = _precedence()
    mine = precedence[op]
    if isinstance(value, cst.BinaryOperation):
        theirs = precedence.get(type(value.operator), 0)
        if op is cst.Power:
            needs = theirs < mine
        else:
            needs = theirs <= mine
    elif isinstance(value, cst.UnaryOperation):
        needs = isinstance(value.operator, cst.Not)  # `x - -a` and `x ** -a` parse as meant
    else:
        needs = isinstance(value, (cst.BooleanOperation, cst.Comparison, cst.IfExp, cst.Lambda,
                                   cst.NamedExpr, cst.Yield))
    if needs:
        return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return value


def remove_arg(call: cst.Call, index: int) -> cst.Call | None:
    """`call` without argument `index`, keeping commas and layout tidy; None if that would
    drop a comment."""
    args = list(call.args)
    removed = args[index]
    if index == len(args) - 1 and index > 0:
        prev = args[index - 1]
        body = removed.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=cst.SimpleWhitespace(""))
        if has_comment(body, prev.comma if isinstance(prev.comma, cst.Comma) else None, prev.whitespace_after_arg,
                       removed.comma if isinstance(removed.comma, cst.Comma) else None,
                       removed.whitespace_after_arg):
            return None  # a comment would move to another argument's line: leave the call alone
        args[index - 1] = prev.with_changes(comma=removed.comma, whitespace_after_arg=removed.whitespace_after_arg)
        del args[index]
        return call.with_changes(args=args)
    if has_comment(removed):
        return None
    del args[index]
    if not args:
        if has_comment(call.whitespace_before_args):
            return call.with_changes(args=args)
        return call.with_changes(args=args, whitespace_before_args=cst.SimpleWhitespace(""))
    return call.with_changes(args=args)


def keyword_index(args: Sequence[cst.Arg], name: str) -> int | None:
    for i, a in enumerate(args):
        if a.keyword is not None and a.keyword.value == name:
            return i
    return None


def is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True" and not node.lpar
