"""The runtime says what the saved tensor was to the op that saved it, and where that op is.

The fixer clones exactly that operand (or result) at the saving line, so the record must
name the right one: an operand of an operator, a method's receiver, a module's input, or
the op's own result; and the saving expression's whole extent.
"""

from __future__ import annotations

from pathlib import Path

from runtime_helpers import launch, line_of, write

SCRIPT = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        u = self.fc(x)
        z = u * self.scale
        self.scale.mul_(0.9)
        g = u.sigmoid()
        g.mul_(2)
        x2 = x * 3
        y = self.fc(x2)
        x2.add_(1)
        return (z + g + y).sum()

torch.manual_seed(0)
Net()(torch.randn(3, 4)).backward()
"""


def test_each_saved_tensor_is_named_as_operand_or_result(tmp_path: Path) -> None:
    script = write(tmp_path, "train.py", SCRIPT)
    data, _ = launch(script)
    saved = {p["modified_at"]["code"]: p["saved_at"] for p in data["problems"]}
    scale = saved["self.scale.mul_(0.9)"]
    assert (scale["line"], scale["saved"], scale["saved_arg"], scale["saved_in_library"]) == \
        (line_of(script, "z = u * self.scale"), "input", 1, False)
    line = script.read_text().splitlines()[scale["line"] - 1]
    start = line.index("u * self.scale")
    assert (scale["col"], scale["end_col"]) == (start, start + len("u * self.scale"))  # the operator's extent
    sigmoid = saved["g.mul_(2)"]
    assert (sigmoid["line"], sigmoid["saved"], sigmoid["saved_arg"]) == (line_of(script, "g = u.sigmoid()"),
                                                                         "output", None)
    linear = saved["x2.add_(1)"]  # saved inside nn.Linear: the module call's first argument
    assert (linear["line"], linear["saved"], linear["saved_arg"], linear["saved_in_library"]) == \
        (line_of(script, "y = self.fc(x2)"), "input", 0, True)


INPLACE_SCRIPT = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        a = self.relu(self.fc(x))
        a[:, 0] = 0
        b = torch.relu_(self.fc(x) * 2)
        b.mul_(3)
        c = (x * 2).sigmoid_()
        c.add_(1)
        return (a + b + c).sum()

torch.manual_seed(0)
Net()(torch.randn(3, 4, requires_grad=True)).backward()
"""


def test_an_inplace_op_saves_its_result_not_its_input(tmp_path: Path) -> None:
    """The tensor an in-place op wrote and returned is its input too; autograd saved the result
    (a clone of the input would itself be written and saved, so the fixer must clone the result)."""
    script = write(tmp_path, "train.py", INPLACE_SCRIPT)
    data, _ = launch(script)
    saved = {p["modified_at"]["code"]: p["saved_at"] for p in data["problems"]}
    for write_code, saving in (("a[:, 0] = 0", "a = self.relu(self.fc(x))"),
                               ("b.mul_(3)", "b = torch.relu_(self.fc(x) * 2)"),
                               ("c.add_(1)", "c = (x * 2).sigmoid_()")):
        site = saved[write_code]
        assert (site["line"], site["saved"], site["saved_arg"]) == (line_of(script, saving), "output", None), site
