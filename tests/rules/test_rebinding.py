"""When a rebinding rewrite is declined, and the reason the user reads (evidence/binding.py, comments.py)."""

from __future__ import annotations

import pytest

from inplace_fix.transforms.api import analyze
from inplace_fix.transforms.base import FixSafety


def only(source: str, code: str):
    (finding,) = [f for f in analyze(source) if f.code == code]
    return finding


def declined(source: str, code: str) -> str:
    finding = only(source, code)
    assert not finding.fixable and finding.safety is FixSafety.NONE, finding
    return finding.note


def offered(source: str, code: str) -> None:
    finding = only(source, code)
    assert finding.fixable and finding.safety is not FixSafety.NONE, finding.note


def test_a_parameter_of_a_function_that_returns_none() -> None:
    note = declined("import torch\n\ndef _add_shortcut(x: torch.Tensor, shortcut):\n    x.add_(shortcut)\n", "IPF002")
    assert note.endswith("`x` is a parameter and `_add_shortcut` returns None: the caller sees the in-place change; "
                         "a rebinding would drop it")


@pytest.mark.parametrize("tail,why", [
    ("    return x.sum()\n", "returns something else at line 5, not `x`"),
    ("    if x.sum() > 0:\n        return x\n", "can end without returning `x`"),
    ("    yield x\n", "is a generator"),
    ("    return\n", "returns None at line 5, not `x`"),
])
def test_a_parameter_the_function_does_not_hand_back(tail: str, why: str) -> None:
    note = declined(f"import torch\n\ndef f(x: torch.Tensor, y):\n    x += y\n{tail}", "IPF001")
    assert why in note


@pytest.mark.parametrize("tail", [
    "    return x\n",
    "    return x, y\n",
    "    return {'out': x}\n",
    "    if y is None:\n        return x\n    else:\n        return [x]\n",
    "    try:\n        return x\n    finally:\n        pass\n",
])
def test_a_parameter_handed_back_on_every_path_is_rewritten(tail: str) -> None:
    offered(f"import torch\n\ndef f(x: torch.Tensor, y):\n    x += y\n{tail}", "IPF001")


def test_an_alias_of_the_written_tensor_counts_as_handing_it_back() -> None:
    offered("import torch\n\ndef f(a, b, c):\n    y = torch.add(a, b, out=c)\n    return y\n", "IPF007")


def test_callers_in_the_same_file_that_still_see_the_object() -> None:
    helper = "import torch\n\ndef helper(x: torch.Tensor, y):\n    x += y\n    return x\n\n\n"
    note = declined(helper + "def run(a, b):\n    helper(a, b)\n    return a\n", "IPF001")
    assert "`helper` is called at line 9 without using its result" in note
    note = declined(helper + "def run(a, b):\n    z = helper(a, b)\n    return a * z\n", "IPF001")
    assert "`helper` is called at line 9 with `a`, which the caller reads again at line 10" in note
    note = declined(helper + "def run(a, b):\n    for _ in range(3):\n        z = a * 2\n        z = helper(a, b)\n"
                    "    return z\n", "IPF001")
    assert "reads again at line 10" in note  # the next pass of the loop reads it
    offered(helper + "def run(a, b):\n    a = helper(a, b)\n    return a\n", "IPF001")
    offered(helper + "def run(a, b):\n    return helper(a * 2, b)\n", "IPF001")


def test_a_method_call_passes_its_arguments_after_self() -> None:
    source = ("import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def _add(self, x: torch.Tensor, y):\n"
              "        x += y\n        return x\n\n    def forward(self, a, b):\n        out = self._add(b, a)\n"
              "        return out, {}\n")
    offered(source.replace("{}", "a"), "IPF001")
    note = declined(source.replace("{}", "b"), "IPF001")
    assert "`_add` is called at line 10 with `b`, which the caller reads again at line 11" in note


def test_a_parameter_rebound_first_is_the_function_s_own() -> None:
    offered("import torch\n\ndef f(x: torch.Tensor, y):\n    x = x * 2\n    x += y\n", "IPF001")
    offered("import torch\n\ndef f(x: torch.Tensor, y):\n    x = torch.cat([x, y])\n    x.add_(y)\n", "IPF002")
    # a view, the tensor itself, an in-place result, or a rebinding that may not run: still the caller's
    for first in ("x = x.view(-1)", "x = x[:, 1:]", "x = x.contiguous()", "x = x.relu_()",
                  "if y is None:\n        x = x * 2"):
        declined(f"import torch\n\ndef f(x: torch.Tensor, y):\n    {first}\n    x += y\n", "IPF001")


@pytest.mark.parametrize("source,why", [
    ("import torch\n\nacc = torch.sigmoid(torch.ones(3))\n\ndef f(a):\n    acc.mul_(a)\n",
     "`acc` is not bound in `f` (a global of the module): a rebinding there would make it local to `f` and raise "
     "UnboundLocalError at its first read"),
    ("import torch\n\ndef f(a):\n    acc = torch.sigmoid(a)\n\n    def g(v):\n        acc.mul_(v)\n\n    g(a)\n"
     "    return acc\n",
     "`acc` is not bound in `g` (a variable of the enclosing function `f`)"),
    ("import torch\n\nacc = torch.sigmoid(torch.ones(3))\n\ndef f(a):\n    global acc\n    acc.mul_(a)\n",
     "`acc` is declared global in `f`: a rebinding would replace the outer `acc`"),
    ("import torch\n\ndef f(a):\n    acc = torch.sigmoid(a)\n\n    def g(v):\n        nonlocal acc\n"
     "        acc.mul_(v)\n\n    g(a)\n    return acc\n",
     "`acc` is declared nonlocal in `g`"),
])
def test_names_a_rebinding_would_not_reach(source: str, why: str) -> None:
    assert why in declined(source, "IPF002")


def test_a_class_attribute_is_shared_by_every_instance() -> None:
    note = declined("import torch\n\nclass M:\n    buf = torch.sigmoid(torch.ones(3))\n\n    def run(self, a):\n"
                    "        self.buf += torch.tanh(a)\n        return self.buf\n", "IPF001")
    assert "`buf` is a class attribute of `M`, shared by every instance: `self.buf = ...` would shadow it" in note


def test_an_instance_attribute_and_a_local_shadowing_a_global_are_rewritten() -> None:
    offered("import torch\n\nclass M:\n    def run(self, a):\n        self.h = torch.tanh(a)\n        self.h.mul_(a)\n"
            "        return self.h\n", "IPF002")
    offered("import torch\n\nacc = 1\n\ndef f(a):\n    acc = torch.sigmoid(a)\n    acc.mul_(a)\n    return acc\n",
            "IPF002")


@pytest.mark.parametrize("setup,why", [
    ("xs = [x * 2 for x in xs]", "bound to a list at line 7"),
    ("xs = {0: torch.sigmoid(a)}", "bound to a dict at line 7"),
    ("xs = list(xs)", "bound to `list(...)` at line 7"),
    ("xs = np.zeros((2, 3))", "bound to `numpy.zeros(...)` (numpy) at line 7"),
])
def test_a_container_has_no_tensor_rewrite(setup: str, why: str) -> None:
    head = ("import numpy as np\nimport torch\nimport torch.nn as nn\n\nclass T(nn.Module):\n"
            f"    def forward(self, xs, a):\n        {setup}\n")
    note = declined(head + "        xs[0] = torch.sigmoid(a)\n        return xs\n", "IPF006")
    assert why in note and "may be a Python container or a numpy array" in note
    # once the name holds a tensor, the tensor rewrite applies
    offered(head + "        xs = torch.stack(xs)\n        xs[0] = torch.sigmoid(a)\n        return xs\n", "IPF006")


@pytest.mark.parametrize("signature,why", [
    ("images: List[Tensor]", "a parameter annotated `List[Tensor]`"),
    ("images: Optional[Tuple[Tensor, ...]]", "a parameter annotated `Optional[Tuple[Tensor,...]]`"),
    ("feature_list", "a parameter named as a sequence"),
])
def test_a_parameter_that_is_a_sequence(signature: str, why: str) -> None:
    name = signature.split(":")[0]
    source = ("import torch.nn as nn\nfrom typing import List, Optional, Tuple\nfrom torch import Tensor\n\n"
              f"class T(nn.Module):\n    def forward(self, {signature}):\n        {name}[0] = {name}[0] * 2\n"
              f"        return {name}\n")
    assert why in declined(source, "IPF006")


def test_a_sequence_passed_to_torch_cat_or_iterated() -> None:
    source = ("import torch\nimport torch.nn as nn\n\nclass T(nn.Module):\n    def forward(self, feats):\n"
              "        {use}\n        feats[0] = feats[0] * 2\n        return feats\n")
    assert "passed as the sequence of `torch.cat`" in declined(
        source.replace("{use}", "y = torch.cat(feats, 1)"), "IPF006")
    assert "a parameter iterated at line 6" in declined(
        source.replace("{use}", "n = [f.sum() for f in feats]"), "IPF006")
    offered(source.replace("{use}", "n = feats.sum()"), "IPF006")  # a tensor input of forward


@pytest.mark.parametrize("comment", [
    "# NOTE leave as '+='", "# NOTE: leave it as is, the hook needs it", "# keep in-place", "# Keep inplace (memory)",
    "# must be in-place: the caller reads x", "# do NOT change", "# don't change this line",
])
def test_a_comment_asking_to_keep_the_operation(comment: str) -> None:
    above = f"import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    {comment}\n    x += b\n    return x\n"
    note = declined(above, "IPF001")
    assert note.endswith(f"the author's comment asks to keep the operation as written: `{comment}`")
    same_line = f"import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    x += b  {comment}\n    return x\n"
    assert comment in declined(same_line, "IPF001")


@pytest.mark.parametrize("source", [
    # not a comment: a string
    "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    s = '# keep in-place'\n    x += b\n    return x, s\n",
    # a comment two lines up, with code between
    "import torch\n\ndef f(a, b):\n    # keep in-place\n    x = torch.sigmoid(a)\n    x += b\n    return x\n",
    # unrelated wording
    "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    # leave as is for now; change the shape later\n"
    "    x += b\n    return x\n",
    "import torch\n\ndef f(a, b):\n    x = torch.sigmoid(a)\n    x += b  # in-place to keep memory low\n    return x\n",
])
def test_other_comments_and_strings_do_not_block_the_fix(source: str) -> None:
    offered(source, "IPF001")


def test_a_keep_comment_holds_for_every_rule() -> None:
    note = declined("import torch.nn as nn\n\n# keep inplace: saves memory\nact = nn.ReLU(inplace=True)\n", "IPF004")
    assert "`# keep inplace: saves memory`" in note
    declined("import torch\n\nw = torch.zeros(3, requires_grad=True)\nw.add_(1)  # must stay in-place\n", "IPF008")
