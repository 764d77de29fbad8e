"""Statement forms shared by the call rules (IPF002, IPF003, IPF007).

`op(x)` alone becomes `x = new_call`; `t = op(x)` becomes `x = t = new_call` (both names
end up on the new tensor, as both named the mutated one before); `return op(x)` becomes
`return new_call` when `x` is a local name (nothing outlives the return). A call nested
inside a larger expression is refused: hoisting it would reorder evaluation.
"""

from __future__ import annotations

from inplace_fix.transforms.cstutil import dotted, is_reevaluable
from inplace_fix.transforms.lazycst import cst


def statement_call(small: cst.CSTNode) -> tuple[str, cst.Call] | None:
    """(form, call) for `call`, `t = call`, `return call`; None otherwise."""
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        return "stmt", small.value
    if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and len(small.targets) == 1:
        return "assign", small.value
    if isinstance(small, cst.Return) and isinstance(small.value, cst.Call):
        return "return", small.value
    return None


def targeted_call(original_line: cst.CSTNode, updated_line: cst.CSTNode, index: int, rc) -> tuple[str, cst.Call, cst.Call] | None:
    """(form, original call, updated call) when the statement's own call is a target."""
    orig = statement_call(original_line.body[index])
    new = statement_call(updated_line.body[index])
    if orig is None or new is None or not rc.targeted(orig[1]):
        return None
    return new[0], orig[1], new[1]


def rebind(small: cst.CSTNode, form: str, mutated: cst.BaseExpression, new_call: cst.Call) -> cst.CSTNode | None:
    """The small statement that binds `mutated` (and the original target) to `new_call`."""
    if not is_reevaluable(mutated):
        return None
    if form == "stmt":
        return cst.Assign(targets=[cst.AssignTarget(target=mutated.deep_clone())], value=new_call,
                          semicolon=small.semicolon)
    if form == "assign":
        target = small.targets[0].target
        if isinstance(target, (cst.Tuple, cst.List, cst.StarredElement)):
            return None
        if dotted(target) == dotted(mutated):
            return small.with_changes(value=new_call)
        return small.with_changes(
            targets=[cst.AssignTarget(target=mutated.deep_clone()), *small.targets], value=new_call)
    if form == "return":
        if not isinstance(mutated, cst.Name):
            return None
        return small.with_changes(value=new_call)
    return None
