"""Is this name a Python container or a numpy array rather than a tensor?

A tensor rewrite of a list (`images = images.clone()`) raises AttributeError; of a dict or a
numpy array it fails or means something else. The evidence: what the name is bound to (`[]`,
`list(...)`, a comprehension, `np.zeros(...)`), how a parameter is annotated or named
(`List[Tensor]`, `feature_list`), and how the function uses it (`.append(...)`, `torch.cat(name)`,
iteration).
"""

from __future__ import annotations

import ast
import re

from inplace_fix.transforms.context import FileContext, FunctionNode

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# Methods that exist on lists, dicts, sets, numpy arrays, not on tensors.
CONTAINER_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "keys", "items", "values",
                               "update", "setdefault", "get", "copy", "popitem", "appendleft", "tolist"})
# Callables that build a Python container or a numpy array.
CONTAINER_BUILDERS = frozenset({"list", "dict", "tuple", "set", "sorted", "OrderedDict", "defaultdict", "deque",
                                "frozenset", "reversed"})
# torch functions whose first argument is a sequence of tensors.
SEQUENCE_TAKERS = frozenset({"cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack",
                             "column_stack", "row_stack", "broadcast_tensors", "block_diag"})
_METHODS_ALT = "|".join(sorted(CONTAINER_METHODS))
_TAKERS_ALT = "|".join(sorted(SEQUENCE_TAKERS))
CONTAINER_ANNOTATION = re.compile(
    r"\b(List|list|Tuple|tuple|Sequence|MutableSequence|Dict|dict|Mapping|MutableMapping|Iterable|Set|set|"
    r"Deque|deque|ndarray|NDArray)\b")
CONTAINER_NAME = re.compile(r"(^|_)(list|lists|lst|tuple|tuples|dict|seq)$|^(list|lst|tuple|dict)_")


def container_value(ctx: FileContext, value: ast.AST) -> str | None:
    """What Python container or numpy array `value` builds (`a list`, `` `np.zeros(...)` ``), else None."""
    t = type(value)
    if t is ast.List or t is ast.ListComp:
        return "a list"
    if t is ast.Dict or t is ast.DictComp:
        return "a dict"
    if t is ast.Set or t is ast.SetComp:
        return "a set"
    if t is ast.Tuple:
        return "a tuple"
    if t is ast.BinOp and isinstance(value.op, (ast.Mult, ast.Add)) and (
            isinstance(value.left, (ast.List, ast.ListComp, ast.Tuple))
            or isinstance(value.right, (ast.List, ast.ListComp, ast.Tuple))):
        return "a list"
    if t is not ast.Call:
        return None
    q = ctx.qualname(value.func) or ""
    last = q.rsplit(".", 1)[-1]
    if q.startswith(("numpy.", "np.")):
        return f"`{q}(...)` (numpy)"
    if q in CONTAINER_BUILDERS or q.startswith("collections.") and last in CONTAINER_BUILDERS:
        return f"`{last}(...)`"
    if isinstance(value.func, ast.Attribute) and value.func.attr in ("tolist", "numpy", "copy", "keys",
                                                                      "values", "items", "split_lines"):
        return f"`.{value.func.attr}()`"
    return None


def mentions_container_use(text: str, name: str) -> bool:
    """Does `text` hold `name.append(`, `torch.cat(name`, `in name`, `enumerate(... name`...? (A cheap
    look before `container_uses` walks the function.)"""
    n = re.escape(name)
    return bool(re.search(rf"\b{n}\s*\.\s*(?:{_METHODS_ALT})\s*\(|(?:{_TAKERS_ALT})\s*\(\s*{n}\b"
                          rf"|\bin\s+{n}\b|(?:enumerate|zip)\s*\([^)]*\b{n}\b", text))


class Uses:
    """How a name is used in a function, where that shows it is a container (first line of each)."""

    __slots__ = ("method", "sequence", "iterated")

    def __init__(self) -> None:
        self.method: tuple[str, int] | None = None
        self.sequence: tuple[str, int] | None = None
        self.iterated: int = 0


def container_uses(ctx: FileContext, func: FunctionNode | None) -> dict[str, Uses]:
    """Name -> the uses in `func` (or the module) that show it is a container."""
    out: dict[str, Uses] = {}
    root = func if func is not None else ctx.tree
    stack: list[ast.AST] = list(root.body)
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Call):
            func_node = node.func
            if isinstance(func_node, ast.Attribute) and isinstance(func_node.value, ast.Name) \
                    and func_node.attr in CONTAINER_METHODS:
                use = out.setdefault(func_node.value.id, Uses())
                use.method = use.method or (func_node.attr, node.lineno)
            q = ctx.qualname(func_node) or ""
            if q.startswith("torch.") and q.rsplit(".", 1)[-1] in SEQUENCE_TAKERS and node.args \
                    and isinstance(node.args[0], ast.Name):
                use = out.setdefault(node.args[0].id, Uses())
                use.sequence = use.sequence or (q, node.lineno)
            if isinstance(func_node, ast.Name) and func_node.id in ("enumerate", "zip"):
                for a in node.args:
                    if isinstance(a, ast.Name):
                        use = out.setdefault(a.id, Uses())
                        use.iterated = use.iterated or node.lineno
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(node.iter, ast.Name):
            use = out.setdefault(node.iter.id, Uses())
            use.iterated = use.iterated or getattr(node, "lineno", 0) or node.iter.lineno
    return out
