"""The float64 directional finite-difference check of a fix that changes gradients on purpose.

Why: when a `.data` write is part of the forward pass (`h.data.mul_(0.5)`, then
`fc2(h)`), the fix that makes it visible (`h = h.mul(0.5)`) changes the gradients, and
the clone-on-write reference is wrong too. Only the loss itself can confirm the new
gradients: run the fixed script twice more in float64 with every leaf nudged by +h*v and
-h*v before its first use (v a fixed random direction per leaf, from its own generator,
so the script's random stream is untouched), and compare (L+ - L-) / 2h with the
gradient along v. Only the first backward call is checked: later ones follow an
optimizer's steps, which the nudge does not describe.

This is the in-process side: `Nudger` (a TorchFunctionMode) and the first backward's
figures, written to the report's `fd`. The engine starts the two runs and compares
them (inplace_fix.launcher.finite_difference_check, inplace_fix.finite_difference).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode

DIRECTION_SEED = 20240917

# Calls that read a leaf's metadata, not its values: no reason to nudge there.
_METADATA_CALLS = frozenset({
    "size", "dim", "numel", "stride", "storage_offset", "is_contiguous", "element_size",
    "data_ptr", "untyped_storage", "__len__", "__repr__", "__format__", "__str__", "__hash__",
    "type", "is_floating_point", "is_complex", "_is_view", "requires_grad_", "register_hook",
    "retain_grad", "nelement", "ndimension", "get_device", "is_pinned", "is_shared",
})
_VALUE_PROPERTIES = frozenset({"T", "mT", "H", "mH", "real", "imag"})


def _reads_values(func: Any) -> bool:
    name = getattr(func, "__name__", "") or ""
    if name == "__get__":
        return getattr(getattr(func, "__self__", None), "__name__", "") in _VALUE_PROPERTIES
    return name not in _METADATA_CALLS


def _tensors(args: Any, kwargs: Optional[dict]) -> list:
    out = []
    for value in list(args) + list((kwargs or {}).values()):
        if isinstance(value, torch.Tensor):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, torch.Tensor))
    return out


class Nudger(TorchFunctionMode):
    """Moves every leaf by `step * v` right before the forward first reads it (grad mode on)."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step
        self.leaves: list[tuple[torch.Tensor, torch.Tensor, int]] = []  # (leaf, v, version after nudge)
        self._index: dict[int, int] = {}
        self.unavailable: Optional[str] = None
        self.result: Optional[dict] = None
        self._before: list = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if torch.is_grad_enabled() and self.result is None and _reads_values(func):
            for t in _tensors(args, kwargs):
                if t.is_leaf and t.requires_grad:
                    self._nudge(t)
        return func(*args, **(kwargs or {}))

    def _nudge(self, leaf: torch.Tensor) -> None:
        k = self._index.get(id(leaf))  # self.leaves holds each leaf, so its id stays its own
        if k is not None:
            if leaf._version != self.leaves[k][2]:  # overwritten under no_grad since (late init): again
                self._move(leaf, self.leaves[k][1], k)
            return
        direction = self._direction(len(self.leaves), leaf)
        self._index[id(leaf)] = len(self.leaves)
        self.leaves.append((leaf, direction, leaf._version))
        self._move(leaf, direction, len(self.leaves) - 1)

    def _direction(self, k: int, leaf: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(DIRECTION_SEED + k)
        v = torch.randn(leaf.shape, generator=gen, dtype=torch.float64)
        return v / math.sqrt(max(1, v.numel()))

    def _move(self, leaf: torch.Tensor, direction: torch.Tensor, k: int) -> None:
        if leaf.dtype != torch.float64 and self.unavailable is None:
            self.unavailable = (f"a leaf of shape {list(leaf.shape)} is {str(leaf.dtype).replace('torch.', '')} "
                                "even with float64 as the default dtype")
        with torch.no_grad():
            leaf.add_(direction.to(device=leaf.device, dtype=leaf.dtype), alpha=self.step)
        self.leaves[k] = (leaf, direction, leaf._version)

    # -- the first backward call ------------------------------------------------
    def before_backward(self, kind: str, roots: list, kwargs_grad: Any) -> None:
        """Note each nudged leaf's gradient so far (the call's own gradient is the difference)."""
        if self.result is not None:
            return
        if kind == "grad":
            self.unavailable = self.unavailable or "the first backward call is torch.autograd.grad"
        elif len(roots) != 1 or not isinstance(roots[0], torch.Tensor) or roots[0].numel() != 1:
            self.unavailable = self.unavailable or "the first backward call is not on a single scalar loss"
        elif kwargs_grad is not None:
            self.unavailable = self.unavailable or "the first backward call passes its own gradient"
        self._before = [None if t.grad is None else t.grad.detach().clone() for t, _, _ in self.leaves]

    def after_backward(self, roots: list) -> None:
        if self.result is not None:
            return
        directional = 0.0
        for (leaf, v, _), before in zip(self.leaves, self._before):
            g = leaf.grad
            if g is None:
                continue
            g = g.detach().to(torch.float64).cpu()
            if before is not None:
                g = g - before.to(torch.float64).cpu()
            directional += float((g * v).sum())
        loss = roots[0] if roots and isinstance(roots[0], torch.Tensor) else None
        if loss is not None and loss.dtype != torch.float64:
            self.unavailable = self.unavailable or (
                f"the loss is {str(loss.dtype).replace('torch.', '')} even with float64 as the default dtype")
        self.result = {
            "loss": float(loss.detach().double().sum()) if loss is not None else None,
            "directional": directional,
            "leaves": [list(t.shape) for t, _, _ in self.leaves],
        }

    def report(self) -> dict:
        out = dict(self.result or {})
        out["step"] = self.step
        if self.result is None:
            out["unavailable"] = self.unavailable or "the script made no backward call"
        elif self.unavailable:
            out["unavailable"] = self.unavailable
        return out
