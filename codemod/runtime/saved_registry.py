"""Registry of tensors saved for backward, via saved_tensors_hooks.

Why: registering saved_tensors_hooks *disables* torch's own version check, so we
record the version at pack time and re-check it at unpack, raising torch's error
ourselves (with the sites). Each record also knows its storage (for the mutation
tracker's hit test, and clone-on-write), the project frame that saved it and the
forward op. Records are weakly indexed by storage so they die with their graph.
"""
from __future__ import annotations

import sys
import weakref
from typing import Any, Callable, Optional

import torch

from . import messages


def byte_range(t: torch.Tensor) -> tuple[int, int]:
    """[start, end) byte range of `t` inside its storage (strided extent)."""
    es = t.element_size()
    start = t.storage_offset() * es
    if t.numel() == 0:
        return start, start
    extent = 1
    for size, stride in zip(t.shape, t.stride()):
        extent += (size - 1) * abs(stride)
    return start, start + extent * es


def storage_key(t: torch.Tensor) -> Optional[int]:
    try:
        return t.untyped_storage().data_ptr()
    except Exception:
        return None


class Rec:
    """One saved tensor. Held by autograd's SavedVariable; indexed weakly."""

    __slots__ = ("rid", "t", "version", "skey", "rng", "site", "op", "needed_by",
                 "hits", "clone", "reported", "role", "__weakref__")

    def __init__(self, rid: int, t: torch.Tensor, version: int, skey: int, site: Any, op: Optional[str]) -> None:
        self.rid = rid
        self.t = t
        self.version = version
        self.skey = skey
        self.rng: Optional[tuple[int, int]] = None
        self.site = site
        self.op = op
        self.needed_by: Optional[str] = None
        self.hits: list = []
        self.clone: Optional[torch.Tensor] = None
        self.reported = False
        # what the tensor was to the op that saved it: {"saved": "input", "saved_arg": k,
        # "saved_in_library": bool} or {"saved": "output", ...}; the fixer clones it there
        self.role: Optional[dict] = None

    def range(self) -> tuple[int, int]:
        if self.rng is None:
            self.rng = byte_range(self.t)
        return self.rng


class Hit:
    """A write that touched a saved tensor's bytes (captured only for these)."""

    __slots__ = ("site", "library", "op", "rule", "version_before", "silent", "construction", "module", "seq")

    def __init__(self, site: Any, library: list, op: str, rule: Optional[str], version_before: int,
                 construction: Any = None, module: Optional[str] = None) -> None:
        self.site = site
        self.library = library
        self.op = op
        self.rule = rule
        self.version_before = version_before
        self.silent = False
        self.construction = construction
        self.module = module
        self.seq = 0


class SavedRegistry:
    """pack/unpack hooks + storage index. `on_problem(kind, rec, hit)` is called once per record."""

    def __init__(self, frames: Any, on_problem: Callable[..., None], clone_on_write: bool) -> None:
        self.frames = frames
        self.on_problem = on_problem
        self.clone_on_write = clone_on_write
        self.index: dict[int, list] = {}
        self.current_op: Optional[str] = None
        self.pending: list = []
        self._next = 0
        self.seq = 0
        self._since_sweep = 0
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, self.unpack)

    # -- hooks -------------------------------------------------------------
    def pack(self, t: torch.Tensor) -> Any:
        try:
            skey = t.untyped_storage().data_ptr()
        except Exception:
            return t
        site, _ = self.frames.capture(sys._getframe(1))
        self._next += 1
        rec = Rec(self._next, t.detach(), t._version, skey, site, self.current_op)
        lst = self.index.get(skey)
        if lst is None:
            self.index[skey] = [weakref.ref(rec)]
        else:
            lst.append(weakref.ref(rec))
        if self.current_op is not None:
            self.pending.append(rec)
        self._since_sweep += 1
        if self._since_sweep > 20000:
            self.sweep()
        return rec

    def unpack(self, rec: Any) -> torch.Tensor:
        if type(rec) is not Rec:
            return rec
        t = rec.t
        if rec.clone is not None:
            if not rec.reported and rec.hits:
                rec.reported = True
                hit = rec.hits[0]
                self.on_problem("silent-data-mutation" if hit.silent else "saved-tensor-modified", rec, hit)
            return rec.clone
        now = t._version
        if now != rec.version:
            hit = None
            for h in rec.hits:
                if h.version_before == rec.version and not h.silent:
                    hit = h
                    break
            if hit is None:
                hit = next((h for h in rec.hits if not h.silent), None)
            if not rec.reported:
                rec.reported = True
                self.on_problem("saved-tensor-modified", rec, hit)
            __tracebackhide__ = True  # noqa: F841 - a failing test shows torch's call, not this frame
            raise RuntimeError(messages.version_message(list(t.shape), str(t.dtype).replace("torch.", ""),
                                                        t.device.type, now, rec.version, None))
        if rec.hits and not rec.reported:
            silent = next((h for h in rec.hits if h.silent), None)
            if silent is not None:
                rec.reported = True
                self.on_problem("silent-data-mutation", rec, silent)
        return t

    # -- index -------------------------------------------------------------
    def live(self, skey: int) -> list:
        lst = self.index.get(skey)
        if not lst:
            return []
        out = []
        keep = []
        for r in lst:
            rec = r()
            if rec is not None:
                out.append(rec)
                keep.append(r)
        if keep:
            self.index[skey] = keep
        else:
            del self.index[skey]
        return out

    def live_records(self) -> list:
        out = []
        for k in list(self.index):
            out.extend(self.live(k))
        return out

    def sweep(self) -> None:
        self._since_sweep = 0
        for k in list(self.index):
            self.live(k)

    def hits_for(self, t: torch.Tensor) -> list:
        """Live records whose bytes overlap the bytes of `t` (a tensor about to be written)."""
        try:
            skey = t.untyped_storage().data_ptr()
        except Exception:
            return []
        recs = self.live(skey) if skey in self.index else []
        if not recs:
            return []
        lo, hi = byte_range(t)
        out = []
        for rec in recs:
            a, b = rec.range()
            if a < hi and lo < b:
                out.append(rec)
        return out
