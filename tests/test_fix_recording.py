"""Reading leaf keys out of a runtime recording without torch in the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.fixer.recording import grad_leaves


def test_grad_leaves_reads_keys_and_skips_missing_gradients(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "rec.pt"
    torch.save({"losses": [1.0], "loss_bits": ["x"], "backward_calls": 2,
                "grads": [[("fc.weight", torch.ones(2, 2)), ("leaf#0", None)],
                          [("fc.weight", torch.zeros(1)), ("leaf#0", torch.ones(3))]]}, path)
    assert grad_leaves(path) == [["fc.weight"], ["fc.weight", "leaf#0"]]


def test_unreadable_recordings_give_none(tmp_path: Path) -> None:
    assert grad_leaves(tmp_path / "missing.pt") is None
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    assert grad_leaves(tmp_path / "junk.pt") is None
