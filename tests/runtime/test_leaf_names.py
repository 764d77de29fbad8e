"""Leaf keys and leaf-write facts: what the verifier compares, and what the planner decides on."""
from __future__ import annotations

from pathlib import Path

import torch

from runtime_helpers import launch, write

# A layer is built free-standing, written into with grad mode on (the leaf error), and only
# then attached to the model: the fusion / `setattr` surgery of a deploy-time BN fold.
FUSED = """
    import torch
    from torch import nn

    def fresh_conv(src, fixed):
        conv = nn.Conv2d(src.in_channels, src.out_channels, 3, padding=1)
        if fixed:
            with torch.no_grad():
                conv.weight[:, :, :, :] = src.weight.detach() * 0.5
        else:
            conv.weight[:, :, :, :] = src.weight.detach() * 0.5
        return conv

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
            self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1))

        def forward(self, x):
            return self.block(self.stem(x))

    FIXED = False
    torch.manual_seed(0)
    net = Net()
    for name in ("stem", "block"):
        setattr(net, name, nn.Sequential(fresh_conv(getattr(net, name)[0], FIXED)))
    x = torch.randn(1, 3, 5, 5)
    for step in range(2):
        net.zero_grad()
        net(x).square().mean().backward()
"""


def _keys(rec: Path) -> list[list[str]]:
    data = torch.load(rec, weights_only=False)
    return [sorted(k for k, _ in row) for row in data["grads"]]


def test_reparented_layer_gets_the_same_keys_in_reference_and_fixed_run(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.py", FUSED)
    ref = tmp_path / "ref.pt"
    rep, _ = launch(bad, "--clone-on-write", "--record", str(ref))
    assert [p["kind"] for p in rep["problems"]] == ["leaf-modified"]
    wanted = ["block.0.bias", "block.0.weight", "stem.0.bias", "stem.0.weight"]
    assert _keys(ref) == [wanted, wanted]
    # the problem names the parameter where it ends up, not the root-less "weight" of the write
    assert rep["problems"][0]["grad_of"] == ["stem.0.weight"]
    fixed = write(tmp_path, "fixed.py", FUSED.replace("FIXED = False", "FIXED = True"))
    rep2, _ = launch(fixed, "--compare", str(ref))
    v = rep2["verification"]
    assert v["same_leaves"] and v["grads_equal"] and v["losses_equal"]


LEAF_STEP = """
    import torch
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3))
    x = torch.randn(3)
    loss = (w * w * x).sum()
    (g,) = torch.autograd.grad(loss, [w], create_graph=CREATE)
    w -= 0.1 * g
    (w * x).sum().backward()
"""


def test_leaf_write_of_a_tracked_value_is_reported_and_not_replayed(tmp_path: Path) -> None:
    s = write(tmp_path, "maml.py", LEAF_STEP.replace("CREATE", "True"))
    rep, _ = launch(s, "--clone-on-write", "--record", str(tmp_path / "ref.pt"))
    (p,) = rep["problems"]
    assert p["kind"] == "leaf-modified" and p["rule"] == "IPF008"
    assert p["written_value"] == {"requires_grad": True, "grad_fn": "MulBackward0"}
    # no_grad is not what this write means: the reference stops there instead of replaying it
    assert rep["stopped_by"] == "problem" and rep["backward_calls"] == 1


def test_leaf_write_of_a_detached_value_is_replayed_outside_autograd(tmp_path: Path) -> None:
    s = write(tmp_path, "sgd.py", LEAF_STEP.replace("CREATE", "False"))
    rep, _ = launch(s, "--clone-on-write", "--record", str(tmp_path / "ref.pt"))
    (p,) = rep["problems"]
    assert p["written_value"] == {"requires_grad": False, "grad_fn": None}
    assert rep["backward_calls"] == 2
