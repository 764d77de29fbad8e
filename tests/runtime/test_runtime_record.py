"""--record / --compare / --clone-on-write: the verifier's oracle at the runtime level."""
from __future__ import annotations

from pathlib import Path

import torch

from runtime_helpers import launch, line_of, write

FAILING = """
    import torch
    from torch import nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.ReLU(inplace=True), nn.Linear(5, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(6, 4)
    w = torch.randn(5, requires_grad=True)
    for step in range(4):
        opt.zero_grad()
        h = torch.sigmoid(x @ net[0].weight.t())
        h[:, 0] = 0
        loss = net(x).pow(2).mean() + (h * w).sum()
        loss.backward()
        opt.step()
"""
HAND_FIXED = FAILING.replace("nn.ReLU(inplace=True)", "nn.ReLU()").replace(
    "        h[:, 0] = 0", "        h = h.clone()\n        h[:, 0] = 0")
DETACHED = FAILING.replace("nn.ReLU(inplace=True)", "nn.ReLU()").replace(
    "        h[:, 0] = 0", "        h = h.detach().clone()\n        h[:, 0] = 0")


def test_record_compare_round_trip(tmp_path: Path) -> None:
    s = write(tmp_path, "ok.py", HAND_FIXED)
    rec = tmp_path / "ref.pt"
    rep, _ = launch(s, "--record", str(rec))
    assert rep["status"] == "clean" and rep["backward_calls"] == 3
    data = torch.load(rec, weights_only=False)
    assert len(data["losses"]) == len(data["loss_bits"]) == len(data["grads"]) == 3
    keys = sorted(k for k, _ in data["grads"][0])
    assert keys == ["0.bias", "0.weight", "3.bias", "3.weight", "leaf#0"]
    rep2, _ = launch(s, "--compare", str(rec))
    assert rep2["verification"] == {"backward_ok": True, "losses_equal": True, "grads_equal": True,
                                    "max_grad_diff": 0.0, "backward_calls": 3,
                                    "reference_backward_calls": 3, "same_leaves": True,
                                    "first_loss_diff_call": None, "first_grad_diff_call": None,
                                    "grad_leaves": sorted(k for k, g in data["grads"][-1] if g is not None)}
    assert {"0.weight", "3.weight"} <= set(rep2["verification"]["grad_leaves"])


def test_clone_on_write_reference_equals_hand_fixed(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.py", FAILING)
    rec = tmp_path / "ref.pt"
    # one run: diagnosis + reference recording
    rep, _ = launch(bad, "--clone-on-write", "--record", str(rec))
    assert rep["status"] == "found"
    got = [(p["modified_at"]["line"], p["saved_at"]["line"], p["rule"]) for p in rep["problems"]]
    assert got == [(line_of(bad, "h[:, 0] = 0"), line_of(bad, "torch.sigmoid"), "IPF006"),
                   (line_of(bad, "loss = net(x)"), line_of(bad, "loss = net(x)"), "IPF004")]
    assert rep["backward_calls"] == 3
    fixed = write(tmp_path, "fixed.py", HAND_FIXED)
    rep2, _ = launch(fixed, "--compare", str(rec))
    v = rep2["verification"]
    assert v["backward_ok"] and v["losses_equal"] and v["grads_equal"] and v["same_leaves"]
    assert v["max_grad_diff"] == 0.0
    # a "fix" that detaches keeps the forward but not the gradients: rejected
    wrong = write(tmp_path, "wrong.py", DETACHED)
    v3 = launch(wrong, "--compare", str(rec))[0]["verification"]
    assert v3["backward_ok"] and not v3["grads_equal"] and v3["max_grad_diff"] > 0


def test_clone_on_write_offset_view_and_data(tmp_path: Path) -> None:
    """Keyed by storage + byte range: an offset view and a .data write are both cloned."""
    bad = write(tmp_path, "bad.py", """
        import torch
        torch.manual_seed(0)
        w = torch.randn(4, 6, requires_grad=True)
        base = torch.exp(w)
        tail = base[:, 3:]          # a view with a storage offset
        y = torch.sigmoid(tail)     # saves its output
        y.data.mul_(0.5)            # silent: no version bump
        base[:, 3:] += 1            # bumps tail's version (exp saved base)
        (y.sum() + base.sum()).backward()
        print(w.grad.sum().item())
    """)
    good = write(tmp_path, "good.py", """
        import torch
        torch.manual_seed(0)
        w = torch.randn(4, 6, requires_grad=True)
        base = torch.exp(w)
        tail = base[:, 3:]
        y = torch.sigmoid(tail)
        y2 = y * 0.5
        base2 = base.clone()
        base2[:, 3:] += 1
        (y.sum() + base2.sum()).backward()
    """)
    rec = tmp_path / "ref.pt"
    rep, _ = launch(bad, "--clone-on-write", "--record", str(rec))
    kinds = sorted(p["kind"] for p in rep["problems"])
    assert kinds == ["saved-tensor-modified", "silent-data-mutation"], rep["problems"]
    v = launch(good, "--compare", str(rec))[0]["verification"]
    assert v["grads_equal"] and v["same_leaves"], v
