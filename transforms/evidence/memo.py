"""The one per-file memo and cycle guard every evidence question shares.

The questions recurse through a function's bindings (`h = f(h)`, `a = b; b = a`,
`hs[t] = g(hs[t - 1])`), and into each other (is it tracked? asks: is it a tensor?).
Each recursive question keys its answers here as `(question, function, name)`: a key
already answered is read back, and a key still being computed further up the stack is a
cycle, which gets the caller's fallback instead of recursing forever. Answers computed
under such a fallback are cached like any other, exactly as when each question kept its
own copy of this logic. Per-file tables that do not recurse (`.requires_grad_()`
receivers, autograd Functions, aliased names) are cached here too.

The entry is a `with` block rather than a `compute` callback on purpose: a callback would
add stack frames to every level of the recursion, and deep binding chains would hit
Python's recursion limit sooner than they used to.
"""

from __future__ import annotations

from collections.abc import Hashable
from types import TracebackType
from typing import Any

_MISSING = object()


class Memo:
    """Answers by key, and the keys being computed right now (the cycle guard)."""

    def __init__(self) -> None:
        self._done: dict[Hashable, Any] = {}
        self._active: set[Hashable] = set()

    def slot(self, key: Hashable, on_cycle: Any = None) -> Slot:
        """The entry for `key`, to use as::

            with memo.slot(key, on_cycle) as slot:
                if slot.missing:
                    slot.value = compute()
            return slot.value

        `slot.value` is the cached answer, or `on_cycle` when `key` is already being
        computed further up the stack (not cached: the outer computation decides), or, when
        `slot.missing`, what the block computes: `key` is marked in progress for the block
        and the value is cached when it ends without an exception.
        """
        return Slot(self, key, on_cycle)


class Slot:
    """One memo entry being read or computed (see `Memo.slot`)."""

    __slots__ = ("_memo", "_key", "missing", "value")

    def __init__(self, memo: Memo, key: Hashable, on_cycle: Any) -> None:
        self._memo = memo
        self._key = key
        done = memo._done.get(key, _MISSING)
        if done is not _MISSING:
            self.missing, self.value = False, done
        elif key in memo._active:
            self.missing, self.value = False, on_cycle
        else:
            self.missing, self.value = True, None

    def __enter__(self) -> Slot:
        if self.missing:
            self._memo._active.add(self._key)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.missing:
            self._memo._active.discard(self._key)
            if exc_type is None:
                self._memo._done[self._key] = self.value
