"""messages.py parses torch's in-place errors from every release since 1.8."""
from __future__ import annotations

import pytest

from inplace_fix.runtime import messages

CASES = [
    # torch 2.13/2.14: forward-op node names
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.FloatTensor [2, 4]], which is output 0 of Sigmoid, is at version 1; "
     "expected version 0 instead. Hint: enable anomaly detection...",
     dict(kind="saved-tensor-modified", shape=[2, 4], dtype="float32", device="cpu",
          version_now=1, version_saved=0, output_index=0, node="Sigmoid")),
    # torch 1.8-1.x: ...Backward names, CUDA type names
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.cuda.HalfTensor [64, 3, 7, 7]], which is output 0 of TBackward, is at "
     "version 3; expected version 2 instead. Hint: the backtrace further above shows...",
     dict(shape=[64, 3, 7, 7], dtype="float16", device="cuda", version_now=3, version_saved=2,
          output_index=0, node="TBackward")),
    # a parameter / buffer: no "which is output" clause at all
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.FloatTensor [10]] is at version 2; expected version 1 instead. Hint: ...",
     dict(shape=[10], dtype="float32", device="cpu", version_now=2, version_saved=1,
          output_index=None, node=None)),
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.DoubleTensor []], which is output 1 of AsStridedBackward0, is at version "
     "5; expected version 4 instead.",
     dict(shape=[], dtype="float64", version_now=5, version_saved=4, output_index=1,
          node="AsStridedBackward0")),
    ("one of the variables needed for gradient computation has been modified by an inplace "
     "operation: [torch.LongTensor [3, 1]] is at version 1; expected version 0 instead.",
     dict(dtype="int64", shape=[3, 1])),
]


@pytest.mark.parametrize("message,expected", CASES)
def test_version_error(message: str, expected: dict) -> None:
    got = messages.parse(message)
    assert got["kind"] == "saved-tensor-modified"
    for key, value in expected.items():
        assert got[key] == value, key


@pytest.mark.parametrize("message,kind", [
    ("a leaf Variable that requires grad is being used in an in-place operation.", "leaf-modified"),
    ("a leaf Variable that requires grad has been used in an in-place operation.", None),
    ("a view of a leaf Variable that requires grad is being used in an in-place operation.", "view-modified"),
    ("Output 0 of UnbindBackward0 is a view and is being modified inplace. This view is the output "
     "of a function that returns multiple views.", "view-modified"),
    ("Output 0 of UnbindBackward is a view and is being modified inplace.", "view-modified"),
    ("A view was created in no_grad mode and is being modified inplace with grad mode enabled.",
     "view-modified"),
    ("Output 0 of BackwardHookFunctionBackward is a view and is being modified inplace. This view "
     "was created inside a custom Function", "view-modified"),
    ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", None),
])
def test_classify(message: str, kind: str | None) -> None:
    assert messages.classify(message) == kind


def test_view_node_and_roundtrip() -> None:
    got = messages.parse("Output 0 of UnbindBackward0 is a view and is being modified inplace.")
    assert (got["output_index"], got["node"]) == (0, "UnbindBackward0")
    text = messages.version_message([2, 4], "float32", "cpu", 1, 0, "Sigmoid")
    back = messages.parse(text)
    assert (back["shape"], back["dtype"], back["version_now"], back["version_saved"], back["node"]) == (
        [2, 4], "float32", 1, 0, "Sigmoid")
