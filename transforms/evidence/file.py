"""`Evidence`: every question about one file, answered through one shared memo.

The rules hold this one object per file (`get_evidence(ctx)`) and ask it anything; it
hands each question to its module's object. All of them share the one `Memo`, so an answer
worked out for one rule is reused by the next, and a cycle through the bindings is
caught whichever question walks into it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from inplace_fix.transforms.context import FileContext, Scope
from inplace_fix.transforms.evidence.aliasing import AliasEvidence
from inplace_fix.transforms.evidence.binding import BindingEvidence
from inplace_fix.transforms.evidence.leaf import LeafEvidence
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import TensorEvidence
from inplace_fix.transforms.evidence.tracked import TrackedEvidence
from inplace_fix.transforms.evidence.verdict import Verdict


class Evidence:
    """Per-file evidence, computed lazily per function and cached.

    Each question is the bound method of its module's object (`ev.of` is
    `TensorEvidence.of`), not a wrapper: the questions recurse deeply and a wrapper would
    add a stack frame to every call a rule makes.
    """

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.memo = Memo()
        self.tensors = TensorEvidence(ctx, self.memo)
        self.tracking = TrackedEvidence(ctx, self.memo, self.tensors)
        self.leaves = LeafEvidence(ctx, self.memo, self.tensors)
        self.aliasing = AliasEvidence(ctx, self.memo, self.tensors)
        self.binding = BindingEvidence(ctx, self.memo, self.tensors)
        # is it a tensor? (tensor.py)
        self.of: Callable[[ast.AST, Scope], Verdict] = self.tensors.of
        self.at: Callable[[ast.AST, Scope, int], Verdict] = self.tensors.at
        self.name: Callable[[str, Scope], Verdict] = self.tensors.name
        # does autograd track it? (tracked.py)
        self.tracked: Callable[[ast.AST, Scope, ast.stmt], Verdict] = self.tracking.tracked
        self.untracked: Callable[..., str | None] = self.tracking.untracked
        self.integer: Callable[[ast.AST, Scope], bool] = self.tracking.integer
        # is it a leaf that requires grad? (leaf.py)
        self.leaf: Callable[[ast.AST, Scope], Verdict] = self.leaves.leaf
        # who else holds it, is it fresh? (aliasing.py)
        self.fresh_unaliased: Callable[[str, Scope], bool] = self.aliasing.fresh_unaliased
        self.is_fresh: Callable[[ast.AST, Scope], bool] = self.aliasing.is_fresh
        self.fresh_producer: Callable[[ast.AST], bool] = self.aliasing.fresh_producer
        # would a rebinding reach every reader of the old object? (binding.py)
        self.rebinding_blocker: Callable[[ast.AST, Scope, ast.stmt], str | None] = self.binding.rebinding_blocker


def get_evidence(ctx: FileContext) -> Evidence:
    """The file's Evidence, created once and shared by every rule."""
    ev = ctx._cache.get("evidence")
    if ev is None:
        ev = ctx._cache["evidence"] = Evidence(ctx)
    return ev
