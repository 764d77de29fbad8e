"""Mutation tracker: a TorchFunctionMode that sees every user-level torch call.

Why a function mode and not a dispatch mode: it sees the call the user wrote
(`__iadd__`, `__setitem__`, `relu(inplace=True)`, `out=`) with the user's frame on
the stack, costs ~1.04x on a ResNet step (a dispatch mode 1.15-1.25x), and under it
`_foreach_*_` ops still bump version counters. Writes are classified by name
(trailing `_`, augmented dunders, `__setitem__`, `inplace=True`, `out=`); a frame is
captured only for a *hit*: a write whose bytes overlap a live saved tensor. The
leaf/view errors are raised by the in-place op itself in the forward: we catch them
here, where the user's frame is on the stack. What it cannot see: a write made inside
another torch function (the mode steps aside while `F.embedding(max_norm=...)` runs its
`embedding_renorm_`); for a saved tensor modified by such a write the launcher re-runs
the script with dispatch_writes.py's mode beside this one.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

import torch
from torch.overrides import TorchFunctionMode

from . import messages
from .frames import augmented_op
from .saved_registry import Hit, SavedRegistry, storage_key

AUG = {
    "__iadd__": "+=", "__isub__": "-=", "__imul__": "*=", "__itruediv__": "/=",
    "__ifloordiv__": "//=", "__imod__": "%=", "__ipow__": "**=", "__iand__": "&=",
    "__ior__": "|=", "__ixor__": "^=", "__ilshift__": "<<=", "__irshift__": ">>=",
    "__imatmul__": "@=",
}
# trailing-underscore names that write nothing autograd checks (no version bump)
NOT_WRITES = frozenset({
    "requires_grad_", "share_memory_", "detach_",
    "_coalesced_", "retain_grad", "record_stream", "_fix_weakref", "rename_", "refine_names_",
    "align_to_", "_set_grad_enabled", "set_grad_enabled_",
})

# in-place ops that change only shape/strides/storage, yet bump the version counter, so a
# saved tensor they touch fails backward like a data write (resize_ to the same shape,
# resize_as_ and set_ sometimes do not bump: such a call is then no write at all)
METADATA_WRITES = frozenset({
    "unsqueeze_", "squeeze_", "t_", "transpose_", "swapdims_", "swapaxes_", "as_strided_",
    "resize_", "resize_as_", "set_",
})


class StopRun(BaseException):
    """Stops the script cleanly (the script's `except Exception` cannot swallow it)."""


def _inplace_index(func: Any) -> Optional[int]:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if "inplace" in names:
        return names.index("inplace")
    return None


def _is_tensor_method(func: Any) -> bool:
    if getattr(func, "__objclass__", None) is not None:
        return True
    qn = getattr(func, "__qualname__", "") or ""
    return qn.startswith(("Tensor.", "TensorBase.", "_TensorBase."))


class MutationTracker(TorchFunctionMode):
    """Classifies writes, finds hits on saved storage, clones on write, catches forward errors."""

    def __init__(self, registry: SavedRegistry, frames: Any, modules: Any,
                 on_forward_error: Callable[..., None], clone_on_write: bool) -> None:
        super().__init__()
        self.registry = registry
        self.frames = frames
        self.modules = modules
        self.on_forward_error = on_forward_error
        self.clone_on_write = clone_on_write
        self._kind: dict[Any, Any] = {}
        self.view_sites: Optional[dict] = None  # id(view) -> (weakref, site); fallback runs only

    def _note_view(self, result: Any) -> None:
        """Where each view was created (expensive: only in the anomaly fallback run)."""
        import weakref

        if isinstance(result, torch.Tensor) and result._is_view():
            site, _ = self.frames.capture(sys._getframe(2))
            try:
                self.view_sites[id(result)] = (weakref.ref(result), site)  # type: ignore[index]
            except TypeError:
                pass

    def view_site(self, t: torch.Tensor) -> Any:
        if self.view_sites is None:
            return None
        entry = self.view_sites.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return None

    # -- classification, cached per func -------------------------------------
    def _classify(self, func: Any) -> Any:
        """(op, rule, mode) where mode is 'arg0', 'inplace@k', 'foreach' or None."""
        name = getattr(func, "__name__", "") or ""
        if name in AUG:
            return (AUG[name], "IPF001", "arg0")
        if name == "__setitem__":
            return ("__setitem__", "IPF006", "arg0")
        if name.startswith("_foreach_") and name.endswith("_"):
            return (name, None, "foreach")
        if name.endswith("_") and not name.startswith("__") and name not in NOT_WRITES:
            return (name, "IPF002" if _is_tensor_method(func) else "IPF003", "arg0")
        k = _inplace_index(func)
        if k is not None:
            return (name + "_", "IPF004", "inplace@%d" % k)
        return None

    def _written(self, kind: Any, func: Any, args: tuple, kwargs: dict) -> tuple:
        """(op, rule, [tensors written]) or None for a call that writes nothing."""
        out = kwargs.get("out") if kwargs else None
        if kind is None:
            if out is None:
                return None
            name = getattr(func, "__name__", "?")
            ts = list(out) if isinstance(out, (tuple, list)) else [out]
            return (name + "(out=)", "IPF007", ts)
        op, rule, mode = kind
        if mode == "arg0":
            ts = [args[0]] if args else ([kwargs.get("input") or kwargs.get("self")] if kwargs else [])
        elif mode == "foreach":
            ts = list(args[0]) if args else []
        else:
            k = int(mode.split("@")[1])
            flag = kwargs.get("inplace") if kwargs and "inplace" in kwargs else (args[k] if len(args) > k else False)
            if not flag:
                return None if out is None else self._written(None, func, args, kwargs)
            ts = [args[0]] if args else [kwargs.get("input")]
        if out is not None:
            ts = ts + (list(out) if isinstance(out, (tuple, list)) else [out])
            rule = "IPF007"
        return (op, rule, ts)

    # -- the mode ------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            kind = self._kind[func]
        except KeyError:
            kind = self._kind[func] = self._classify(func)
        except TypeError:  # unhashable callable
            kind = self._classify(func)
        w = None
        if kind is not None or "out" in kwargs:
            w = self._written(kind, func, args, kwargs)
        reg = self.registry
        hits = None
        if w is not None:
            hits = self._before_write(w, func)
        prev_op = reg.current_op
        reg.current_op = getattr(func, "__name__", None)
        try:
            result = func(*args, **kwargs)
        except RuntimeError as e:
            reg.current_op = prev_op
            reg.pending.clear()
            kind_ = messages.classify(str(e))
            __tracebackhide__ = True  # noqa: F841 - a failing test shows the user's line, not this frame
            if kind_ in ("leaf-modified", "view-modified") and w is not None:
                return self.on_forward_error(kind_, e, w, func, args, kwargs, sys._getframe(1))
            raise
        except BaseException:
            reg.current_op = prev_op
            reg.pending.clear()
            raise
        reg.current_op = prev_op
        if self.view_sites is not None:
            self._note_view(result)
        if reg.pending:
            self._name_saver(result, args, sys._getframe(1))
        if hits:
            self._after_write(hits)
        return result

    def _name_saver(self, result: Any, args: tuple = (), caller: Any = None) -> None:
        reg = self.registry
        in_library = caller is not None and not self.frames.is_project(caller.f_code.co_filename)
        for rec in reg.pending:
            rec.role = saved_role(rec.skey, args, result, in_library)
        node = None
        r = result
        if isinstance(r, (tuple, list)):
            r = next((x for x in r if isinstance(x, torch.Tensor) and x.grad_fn is not None), None)
        if isinstance(r, torch.Tensor):
            node = r.grad_fn
        if node is not None:
            name = type(node).__name__
            rids = []
            for rec in reg.pending:
                rec.needed_by = name
                rids.append(rec.rid)
            try:
                node.metadata.setdefault("ipf_rids", []).extend(rids)
            except Exception:
                pass
        reg.pending.clear()

    def _before_write(self, w: tuple, func: Any) -> Optional[list]:
        op, rule, ts = w
        reg = self.registry
        if not reg.index:
            return None
        found = []
        for t in ts:
            if isinstance(t, torch.Tensor):
                for rec in reg.hits_for(t):
                    found.append((rec, t))
        if not found:
            return None
        frame = sys._getframe(2)
        site, lib = self.frames.capture(frame, with_library=True)
        lib = strip_dispatch_frames(lib, func)
        construction, module = self.modules.inplace_module_for(frame) if lib else (None, None)
        if construction is not None or module is not None:
            rule = "IPF004"
        elif not lib:
            aug = augmented_op(site)
            if aug is not None:
                op, rule = aug, "IPF001"
        else:
            rule = None  # the write is inside a library (optimizer.step(), a timm block): no local rule
        if ".data" in _line_of(site) and rule != "IPF004":
            rule = "IPF005"
        out = []
        for rec, t in found:
            reg.seq += 1
            hit = Hit(site, lib, op, rule, rec.t._version, construction, module)
            hit.seq = reg.seq
            rec.hits.append(hit)
            if self.clone_on_write and rec.clone is None and rec.t._version == rec.version:
                rec.clone = rec.t.clone()
            out.append((rec, hit))
        return out

    def _after_write(self, hits: list) -> None:
        for rec, hit in hits:
            if rec.t._version != hit.version_before:
                continue
            if hit.op in METADATA_WRITES:
                forget_hit(rec, hit)  # a metadata op that left the version alone changed nothing autograd sees
            else:
                hit.silent = True  # the write went through an alias with its own counter (.data)


def forget_hit(rec: Any, hit: Hit) -> None:
    """Undo a hit that turned out to bump no version (and its clone, if nothing else needs it)."""
    if hit in rec.hits:
        rec.hits.remove(hit)
    if not rec.hits and rec.clone is not None and rec.t._version == rec.version:
        rec.clone = None


def saved_role(skey: int, args: tuple, result: Any, in_library: bool) -> Optional[dict]:
    """Whether a saved tensor (by storage) is an argument of the saving op (which) or its result.

    Why: cloning that operand, or that result, at the saving line makes autograd keep a
    private copy, which is what the reference run does; the fixer needs to know which.
    An op that wrote its argument in place and returned it (`relu_`, `nn.ReLU(inplace=True)`)
    saved its result: a clone of that argument would be written and saved in its stead.
    """
    outputs = result if isinstance(result, (tuple, list)) else (result,)
    for index, arg in enumerate(args):
        if isinstance(arg, torch.Tensor) and storage_key(arg) == skey:
            if any(out is arg for out in outputs):
                break
            return {"saved": "input", "saved_arg": index, "saved_in_library": in_library}
    for out in outputs:
        if isinstance(out, torch.Tensor) and storage_key(out) == skey:
            return {"saved": "output", "saved_arg": None, "saved_in_library": in_library}
    return None


def _line_of(site: Any) -> str:
    if site is None:
        return ""
    import linecache

    code, lasti = site
    try:
        line = list(code.co_positions())[lasti // 2][0]
    except Exception:
        line = code.co_firstlineno
    return linecache.getline(code.co_filename, line or 0)


def strip_dispatch_frames(lib: list, func: Any) -> list:
    """Drop the frames of the intercepted function's own Python wrapper (F.relu calling
    handle_torch_function) and torch's dispatch plumbing (`torch.ops.aten.relu_` is
    `OpOverloadPacket.__call__`): a call the user wrote directly is not a library write."""
    name = getattr(func, "__name__", None)
    return [s for s in lib if s[0].co_name != name and not is_dispatch_plumbing(s[0])]


_PLUMBING = tuple(os.sep + os.path.join("torch", p) for p in (
    "_ops.py", "_compile.py", os.path.join("_dynamo", "eval_frame.py"),
    os.path.join("utils", "_python_dispatch.py")))


def is_dispatch_plumbing(code: Any) -> bool:
    """A frame of torch's op-calling machinery (`torch.ops`, the dispatch-mode wrappers), not a library's logic."""
    return code.co_filename.endswith(_PLUMBING)
