"""--apply on a real script whose leaf write is a differentiable update (a MAML inner step)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from diagnose_helpers import run_cli

MAML = textwrap.dedent("""
    import torch
    from torch import nn
    torch.manual_seed(0)
    net = nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(4, 2), torch.randn(4, 1)
    for step in range(2):
        opt.zero_grad()
        inner = (net(x) - y).pow(2).mean()
        grads = torch.autograd.grad(inner, list(net.parameters()), create_graph=True)
        for p, g in zip(net.parameters(), grads):
            p -= 0.01 * g
        (net(x) - y).pow(2).mean().backward()
        opt.step()
""")


def test_maml_inner_step_is_left_alone_with_rebinding_advice(tmp_path: Path) -> None:
    script = tmp_path / "maml.py"
    script.write_text(MAML)
    proc = run_cli(str(script.name), "--apply", "--json", cwd=tmp_path, timeout=240)
    data = json.loads(proc.stdout)
    assert data["status"] == "unfixable", data.get("why")
    assert script.read_text() == MAML and data["files_changed"] == []
    (problem,) = data["problems"]
    assert problem["kind"] == "leaf-modified" and problem["written_value"]["requires_grad"] is True
    assert problem["fix"] is None
    why = problem["why_unfixable"]
    assert "torch.no_grad()" in why and "fast = p - lr * g" in why and "torch.stack" not in why
