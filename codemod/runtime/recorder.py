"""Record each backward call's loss and leaf gradients; save and compare recordings.

Why: the verifier's oracle. A fix that detaches a tensor keeps the loss and silently
stops gradients; only comparing every leaf's gradient, keyed stably across the
original and the rewritten script ("fc.weight", else "leaf#k" in discovery order),
catches that. Losses are compared bit for bit. A parameter is named by where it sits at
each backward call, never by where it sat when first seen: a layer built free-standing
and attached to the model later (conv-BN fusion, `setattr` surgery, wrapping in
Sequential) must get the same name in the reference and in the fixed run.
"""
from __future__ import annotations

import struct
import weakref
from typing import Any, Callable, Optional

import torch

GRAD_RTOL = 1e-5
GRAD_ATOL = 1e-7


def leaves_of(roots: list) -> list:
    """Leaves (AccumulateGrad variables) reachable from `roots`, deterministic DFS order."""
    out = []
    seen_leaves: set[int] = set()
    for r in roots:
        if isinstance(r, torch.Tensor) and r.grad_fn is None and r.requires_grad and id(r) not in seen_leaves:
            seen_leaves.add(id(r))
            out.append(r)
    nodes = [r.grad_fn for r in roots if isinstance(r, torch.Tensor) and r.grad_fn is not None]
    return out + leaves_below(nodes, seen_leaves)


def leaves_below(nodes: list, seen_leaves: Optional[set] = None) -> list:
    """Leaves reachable from autograd `nodes` (the first visited first), each once."""
    out = []
    seen_nodes: set[int] = set()
    seen_leaves = set() if seen_leaves is None else seen_leaves
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        var = getattr(node, "variable", None)
        if var is not None:
            if id(var) not in seen_leaves:
                seen_leaves.add(id(var))
                out.append(var)
            continue
        for nxt, _ in reversed(node.next_functions):
            if nxt is not None and id(nxt) not in seen_nodes:
                stack.append(nxt)
    return out


def loss_bits(t: torch.Tensor) -> tuple[float, str]:
    d = t.detach()
    if d.numel() == 1:
        value = float(d.double().item())
    else:
        value = float(d.double().sum().item())
    raw = d.cpu().contiguous().reshape(-1)
    if raw.numel() == 1 and raw.dtype == torch.float32:
        bits = struct.pack("<f", float(raw.item())).hex()
    elif raw.numel() == 1 and raw.dtype == torch.float64:
        bits = struct.pack("<d", float(raw.item())).hex()
    else:
        try:
            bits = bytes(raw.view(torch.uint8).numpy().tobytes()).hex()
        except Exception:
            bits = repr(raw.tolist())
    return value, bits


class Recorder:
    """Per backward call: loss (float64 + bits) and [(leaf_key, grad)]."""

    def __init__(self, param_names: Callable[[], dict]) -> None:
        self._param_names = param_names
        self._names: dict[int, str] = {}
        self._leaf_keys: dict[int, tuple] = {}
        self.losses: list[float] = []
        self.loss_bits: list[str] = []
        self.grads: list[list] = []

    def refresh(self) -> None:
        """Re-read every parameter's qualified name (modules may have been re-parented since)."""
        self._names = self._param_names()

    def key(self, t: torch.Tensor) -> str:
        """`t`'s key: its parameter name as of the last refresh, else a stable "leaf#k"."""
        k = self._names.get(id(t))
        if k is None and isinstance(t, torch.nn.Parameter):
            self._names = self._param_names()
            k = self._names.get(id(t))
        if k is not None:
            return k
        entry = self._leaf_keys.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        k = "leaf#%d" % len(self._leaf_keys)
        try:
            self._leaf_keys[id(t)] = (weakref.ref(t), k)
        except TypeError:
            pass
        return k

    def keys_now(self, leaves: list) -> list[str]:
        """The keys of `leaves` under the names the parameters have now."""
        self.refresh()
        return [self.key(t) for t in leaves]

    def param_names_now(self) -> dict[int, str]:
        """id(parameter) -> its qualified name now (refreshes the names `key` uses)."""
        self.refresh()
        return self._names

    def after_backward(self, roots: list, leaves: list) -> None:
        vals = [loss_bits(r) for r in roots if isinstance(r, torch.Tensor)]
        self.losses.append(vals[0][0] if len(vals) == 1 else [v for v, _ in vals])
        self.loss_bits.append("|".join(b for _, b in vals))
        self.refresh()
        row = []
        for leaf in leaves:
            g = leaf.grad
            row.append((self.key(leaf), None if g is None else g.detach().clone()))
        self.grads.append(row)

    def after_grad(self, outputs: list, inputs: list, result: Any) -> None:
        vals = [loss_bits(r) for r in outputs if isinstance(r, torch.Tensor)]
        self.losses.append(vals[0][0] if len(vals) == 1 else [v for v, _ in vals])
        self.loss_bits.append("|".join(b for _, b in vals))
        self.refresh()
        row = []
        for k, (inp, g) in enumerate(zip(inputs, result)):
            key = self.key(inp) if inp.grad_fn is None else "input#%d" % k
            row.append((key, None if g is None else g.detach().clone()))
        self.grads.append(row)

    def data(self) -> dict:
        return {"losses": list(self.losses), "loss_bits": list(self.loss_bits),
                "grads": [list(r) for r in self.grads], "backward_calls": len(self.losses)}

    def save(self, path: str) -> None:
        torch.save(self.data(), path)


def compare(current: dict, reference: dict, backward_ok: bool) -> dict:
    """The `verification` block: this run against a reference recording."""
    ref_n = len(reference.get("loss_bits", []))
    cur_n = len(current.get("loss_bits", []))
    n = min(ref_n, cur_n)
    losses_equal = cur_n >= ref_n and current["loss_bits"][:n] == reference["loss_bits"][:n]
    same_leaves = cur_n >= ref_n
    max_diff = 0.0
    first_grad_diff = None  # 1-based: the first backward call whose gradients differ
    for i in range(n):
        a = dict(current["grads"][i])
        b = dict(reference["grads"][i])
        equal = sorted(a) == sorted(b)
        same_leaves = same_leaves and equal
        for key in sorted(set(a) & set(b)):
            diff, close = _grad_diff(a[key], b[key])
            max_diff = max(max_diff, diff)
            equal = equal and close
        if not equal and first_grad_diff is None:
            first_grad_diff = i + 1
    first_loss_diff = next((i + 1 for i in range(n) if current["loss_bits"][i] != reference["loss_bits"][i]), None)
    last = current["grads"][-1] if current.get("grads") else []
    return {"backward_ok": bool(backward_ok and cur_n >= ref_n), "losses_equal": bool(losses_equal),
            "grads_equal": cur_n >= ref_n and first_grad_diff is None, "max_grad_diff": max_diff,
            "backward_calls": cur_n, "reference_backward_calls": ref_n, "same_leaves": bool(same_leaves),
            "first_loss_diff_call": first_loss_diff, "first_grad_diff_call": first_grad_diff,
            "grad_leaves": sorted(str(key) for key, grad in last if grad is not None)}


def _grad_diff(ga: Optional[torch.Tensor], gb: Optional[torch.Tensor]) -> tuple[float, bool]:
    """(max abs difference, close enough) of one leaf's gradients; NaNs must sit in the same places."""
    if ga is None or gb is None:
        return 0.0, (ga is None) == (gb is None)
    if ga.shape != gb.shape:
        return 0.0, False
    diff = 0.0
    d = (ga.double() - gb.double()).abs()
    if d.numel():
        diff = float(d.max())
        if diff != diff:  # nan
            diff = 0.0 if bool(torch.equal(ga.isnan(), gb.isnan())) else float("inf")
    return diff, bool(torch.allclose(ga.double(), gb.double(), rtol=GRAD_RTOL, atol=GRAD_ATOL, equal_nan=True))


def load(path: str) -> dict:
    return torch.load(path, weights_only=False)


def optional_float(x: Optional[float]) -> Optional[float]:
    return None if x is None else float(x)
