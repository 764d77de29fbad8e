"""Clone at the saving site: the runtime's saved site -> the operand (or result) that gets `.clone()`."""

from __future__ import annotations

import pytest

from inplace_fix.transforms.api import rewrite
from inplace_fix.transforms.clone_saved import CODE, clone_site


def _saved(line: int, text: str, expr: str, role: str, arg: int | None = None, op: str = "mul",
           in_library: bool = False) -> dict:
    """The runtime's `saved_at` for the expression `expr` on `line` (whose text is `text`)."""
    col = text.index(expr)
    return {"line": line, "col": col, "end_line": line, "end_col": col + len(expr), "op": op,
            "saved": role, "saved_arg": arg, "saved_in_library": in_library}


CASES = [
    # (line as written, saving expression, role, arg, op, in_library, line after)
    ("z = u * self.scale", "u * self.scale", "input", 1, "mul", False, "z = u * self.scale.clone()"),
    ("g = u.sigmoid()", "u.sigmoid()", "output", None, "sigmoid", False, "g = u.sigmoid().clone()"),
    ("s = self.table.weight @ q.t()", "self.table.weight @ q.t()", "input", 0, "matmul", False,
     "s = self.table.weight.clone() @ q.t()"),
    ("s = self.table.weight @ q.t()", "self.table.weight @ q.t()", "input", 1, "matmul", False,
     "s = self.table.weight @ q.t().clone()"),
    # Python calls the tensor's own method for `2 * (a + b)`: the tensor is the op's first argument
    ("w = 2 * (a + b)", "2 * (a + b)", "input", 0, "mul", False, "w = 2 * (a + b).clone()"),
    ("k = (a + b) * c", "(a + b) * c", "input", 0, "mul", False, "k = (a + b).clone() * c"),
    ("k = a + b * c", "a + b * c", "input", 1, "add", False, "k = a + (b * c).clone()"),
    ("y = torch.mul(a, b)  # keep", "torch.mul(a, b)", "input", 1, "mul", False,
     "y = torch.mul(a, b.clone())  # keep"),
    ("y = h.mul(self.w)", "h.mul(self.w)", "input", 0, "mul", False, "y = h.clone().mul(self.w)"),
    # a module call: the op inside saw the module's input as its first argument
    ("y = self.fc(x)", "self.fc(x)", "input", 0, "linear", True, "y = self.fc(x.clone())"),
    # an in-place op saves its result (the tensor it wrote): the result gets the clone, never its input
    ("first = self.relu(self.conv(x))", "self.relu(self.conv(x))", "output", None, "relu", True,
     "first = self.relu(self.conv(x)).clone()"),
    ("b = torch.relu_(h * 2)", "torch.relu_(h * 2)", "output", None, "relu_", False,
     "b = torch.relu_(h * 2).clone()"),
]


@pytest.mark.parametrize("before, expr, role, arg, op, in_library, after", CASES)
def test_the_saved_operand_gets_its_clone(before, expr, role, arg, op, in_library, after) -> None:
    source = f"import torch\n{before}\n"
    site = clone_site(source, _saved(2, before, expr, role, arg, op, in_library))
    assert not isinstance(site, str), site
    result = rewrite(source, {CODE: [site.span]})
    assert result.source == f"import torch\n{after}\n"


@pytest.mark.parametrize("before, expr, role, arg, op, in_library, why", [
    # the weight inside `self.fc(x)` is no argument written at the call
    ("y = self.fc(x)", "self.fc(x)", "input", 1, "linear", True, "not an operand written"),
    ("y = f(*xs)", "f(*xs)", "input", 0, "f", False, "not an operand written"),
    ("y = a * b", "a * b", None, None, "mul", False, "did not record"),
])
def test_no_clone_where_the_saved_tensor_is_not_written(before, expr, role, arg, op, in_library, why) -> None:
    source = f"{before}\n"
    site = clone_site(source, _saved(1, before, expr, role, arg, op, in_library))
    assert isinstance(site, str) and why in site


def test_an_extent_that_matches_no_expression_is_refused() -> None:
    saved = {"line": 1, "col": 0, "end_line": 1, "end_col": 3, "saved": "output", "op": "relu"}
    assert "no call or operator" in clone_site("y = a * b\n", saved)


def test_clone_is_not_a_lint_rule() -> None:
    from inplace_fix.transforms.api import analyze
    from inplace_fix.transforms.registry import ALL_RULES

    assert CODE not in {r.code for r in ALL_RULES}
    assert all(f.code != CODE for f in analyze("z = u * s\nu.mul_(2)\n"))
