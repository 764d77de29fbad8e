"""Writes the function mode cannot see, caught at the dispatcher: the follow-up run's second pass.

Why a second pass, and only in a follow-up run: a TorchFunctionMode steps aside while the
torch function it intercepted runs, so a write made inside one is invisible to it
(`F.embedding(max_norm=...)` renormalises its weight with `embedding_renorm_` under
no_grad). A TorchDispatchMode sees every aten op, but costs 1.15-1.25x on every op; so
the launcher re-runs the script with `--dispatch-writes` only when the first run found
a saved tensor modified by a write it could not name.

What counts as a write: an aten op whose schema marks an argument as written
(`Tensor(a!) self`, `out`, a `Tensor(a!)[]` list), which covers the metadata in-place ops
(`unsqueeze_`, `t_`, `resize_`...) too. A write becomes a Hit of every live saved record
on a written storage, unless the function mode already recorded that very write. The
version counter moves only after this handler returns (the ADInplaceOrView kernel sits
above the Python key), so each new hit is checked when the next op arrives: one whose
version did not move (`resize_` to the same shape, a `.data` alias) is forgotten. Under
any dispatch mode the in-place `_foreach_*` ops (optimizers with foreach=True) do not
bump version counters at all: we bump them, or this pass would hide the optimizer-step
bug it is looking for.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .mutation_tracker import forget_hit, is_dispatch_plumbing
from .saved_registry import Hit, SavedRegistry, storage_key


def written_arguments(func: Any) -> tuple:
    """(position, name, kwarg_only) of each argument the op's schema marks as written."""
    try:
        arguments = func._schema.arguments
    except AttributeError:
        return ()
    out = []
    for position, arg in enumerate(arguments):
        alias = arg.alias_info
        if alias is not None and alias.is_write:
            out.append((position, arg.name, arg.kwarg_only))
    return tuple(out)


def op_name(func: Any) -> str:
    """`embedding_renorm_` for aten.embedding_renorm_.default: the name a user would search for."""
    try:
        return func._schema.name.split("::")[-1]
    except AttributeError:
        return str(func)


def written_tensors(slots: tuple, args: tuple, kwargs: dict) -> list:
    """The tensors an op call writes, from its schema's written arguments."""
    out: list = []
    for position, name, kwarg_only in slots:
        value = kwargs.get(name) if kwarg_only or position >= len(args) else args[position]
        if isinstance(value, torch.Tensor):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, torch.Tensor))
    return out


class DispatchWrites(TorchDispatchMode):
    """Gives each saved tensor's unseen writer a Hit: the project line, the library frames, the aten op."""

    def __init__(self, registry: SavedRegistry, frames: Any, clone_on_write: bool) -> None:
        super().__init__()
        self.registry = registry
        self.frames = frames
        self.clone_on_write = clone_on_write
        self._slots: dict = {}
        self._unsettled: list = []  # (record, hit): the hits whose version bump is not seen yet

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self._unsettled:
            self.settle()
        slots = self._slots.get(func)
        if slots is None:
            slots = self._slots[func] = written_arguments(func)
        if not slots:
            return func(*args, **kwargs)
        written = written_tensors(slots, args, kwargs)
        watched = self._watch(written) if self.registry.index else []
        result = func(*args, **kwargs)
        op = op_name(func)
        if op.startswith("_foreach_") and written:
            torch.autograd.graph.increment_version(written)
        if watched:
            self._record(watched, op, sys._getframe(1))
        return result

    def __exit__(self, *exc: Any) -> Any:
        self.settle()
        return super().__exit__(*exc)

    def settle(self) -> None:
        """Forget each new hit whose write turned out to bump no version."""
        pending, self._unsettled = self._unsettled, []
        for rec, hit in pending:
            if rec.t._version == hit.version_before:
                forget_hit(rec, hit)

    def _watch(self, written: list) -> list:
        """(record, version before) of each live saved record on a written storage, not yet attributed."""
        out = []
        seen: set = set()
        for t in written:
            skey = storage_key(t)
            if skey is None or skey not in self.registry.index or skey in seen:
                continue
            seen.add(skey)
            for rec in self.registry.live(skey):
                now = rec.t._version
                if any(h.version_before == now for h in rec.hits):
                    continue  # the function mode saw this very call and named it
                if self.clone_on_write and rec.clone is None and now == rec.version:
                    rec.clone = rec.t.clone()
                out.append((rec, now))
        return out

    def _record(self, watched: list, op: str, frame: Any) -> None:
        """A Hit for each watched record, at the first project frame above the op."""
        site, lib = self.frames.capture(frame, with_library=True)
        lib = [s for s in lib if not is_dispatch_plumbing(s[0])]
        rule = direct_call_rule(site, lib, op)
        reg = self.registry
        for rec, before in watched:
            reg.seq += 1
            hit = Hit(site, lib, op, rule, before)
            hit.seq = reg.seq
            rec.hits.append(hit)
            self._unsettled.append((rec, hit))


def direct_call_rule(site: Any, lib: list, op: str) -> Any:
    """IPF003 for an in-place op called straight from a project line (only `torch.ops.aten.X_.overload`
    gets past the function mode so); None for a write inside a library (Embedding's renorm)."""
    return "IPF003" if site is not None and not lib and op.endswith("_") else None
