"""Where modules were built, and what their parameters are called.

Why: when `nn.ReLU(inplace=True)` runs inside an `nn.Sequential`, the write happens
in torch's own file; the line to edit is where the module was *constructed*. We
patch `nn.Module.__setattr__` (only an `inplace` flag costs anything) to note the
project frames of the construction (innermost first: a builder's `cls(**cfg)`, then its
callers) and of an `m.inplace = True` run after it, and `nn.Module.__init__` to remember
every module in construction order, so leaves can be keyed by stable qualified names
("fc.weight").
"""
from __future__ import annotations

import sys
import weakref
from typing import Any, Optional

import torch
from torch import nn


_STACK_LIMIT = 8  # project frames kept per construction: builder, its callers, the script


class Construction(tuple):
    """Where a module was built: (code, lasti) of the innermost project frame, like any site.

    `stack` holds the project frames that led there, innermost first (the first is the site
    itself). A tuple subclass so the tracker, the session and `frames.resolve` keep passing
    and unpacking it as a plain site while the stack rides along to the report.
    `inplace_set` is the project frame of an `m.inplace = True` run after the module was
    built (`for m in net.modules(): m.inplace = True`): the flag to change is there.
    """

    stack: tuple = ()
    inplace_set: Any = None

    def __new__(cls, stack: list, inplace_set: Any = None) -> "Construction":
        site = super().__new__(cls, stack[0])
        site.stack = tuple(stack)
        site.inplace_set = inplace_set
        return site


def _in_own_init(mod: Any, frame: Any) -> bool:
    """Is `frame` an `__init__` of `mod` itself (the module is being built, not reconfigured)?"""
    try:
        return frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is mod
    except Exception:
        return True


class ModuleSites:
    def __init__(self, frames: Any) -> None:
        self.frames = frames
        self.sites: "weakref.WeakKeyDictionary[nn.Module, Any]" = weakref.WeakKeyDictionary()
        # project frames of modules built with `inplace=False` (for a flag set to True later)
        self.built: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()
        self.all: list = []  # weakrefs, construction order
        self._orig_setattr = None
        self._orig_init = None

    def install(self) -> None:
        orig_setattr = nn.Module.__setattr__
        orig_init = nn.Module.__init__
        capture_stack = self.frames.capture_stack
        allmods = self.all
        record = self._record

        def __setattr__(mod, name, value):  # noqa: N807
            if name == "inplace" and isinstance(value, bool):
                try:
                    record(mod, value, sys._getframe(1))
                except Exception:
                    pass
            return orig_setattr(mod, name, value)

        def __init__(mod, *args, **kwargs):  # noqa: N807
            orig_init(mod, *args, **kwargs)
            try:
                allmods.append(weakref.ref(mod))
            except Exception:
                pass

        __init__.__wrapped__ = orig_init  # type: ignore[attr-defined]
        self._orig_setattr, self._orig_init = orig_setattr, orig_init
        nn.Module.__setattr__ = __setattr__  # type: ignore[method-assign]
        nn.Module.__init__ = __init__  # type: ignore[method-assign]

    def _record(self, mod: Any, value: bool, frame: Any) -> None:
        """Note where an `inplace` flag was set: while the module is built (its construction,
        kept for a flag set to False too, so a later `m.inplace = True` can name both), or after."""
        stack = self.frames.capture_stack(frame, _STACK_LIMIT)
        if _in_own_init(mod, frame):
            if value:
                self.sites[mod] = Construction(stack) if stack else None
            elif stack:
                self.built[mod] = stack
            return
        if not value or not stack:
            return
        known = self.sites.get(mod)
        built = list(known.stack) if known is not None else self.built.get(mod) or stack
        self.sites[mod] = Construction(built, inplace_set=stack[0])

    def uninstall(self) -> None:
        if self._orig_setattr is not None:
            nn.Module.__setattr__ = self._orig_setattr  # type: ignore[method-assign]
            nn.Module.__init__ = self._orig_init  # type: ignore[method-assign]

    def inplace_module_for(self, frame: Any) -> tuple[Any, Optional[str]]:
        """The in-place module whose forward (below the project frame) did the write."""
        f = frame
        found = (None, None)
        while f is not None and not self.frames.is_project(f.f_code.co_filename):
            if f.f_code.co_name == "forward":
                mod = f.f_locals.get("self")
                if isinstance(mod, nn.Module) and getattr(mod, "inplace", False):
                    return self.sites.get(mod), type(mod).__name__
            f = f.f_back
        return found

    def named_parameters(self) -> list[tuple[str, torch.Tensor]]:
        """(qualified name, parameter) from root modules in construction order.

        A name that two roots share gets the root's class name and index as prefix.
        """
        mods = [m for m in (r() for r in self.all) if m is not None]
        children: set[int] = set()
        for m in mods:
            for c in m.children():
                children.add(id(c))
        roots = [m for m in mods if id(m) not in children]
        out: list[tuple[str, torch.Tensor]] = []
        seen: set[int] = set()
        used: set[str] = set()
        for k, root in enumerate(roots):
            for n, p in root.named_parameters(remove_duplicate=True):
                if id(p) in seen:
                    continue
                key = n if n not in used else f"{type(root).__name__}#{k}.{n}"
                used.add(key)
                seen.add(id(p))
                out.append((key, p))
        return out

    def param_names(self) -> dict[int, str]:
        """id(parameter) -> qualified name (the recorder's stable leaf keys)."""
        return {id(p): key for key, p in self.named_parameters()}

    def param_name_of_storage(self, t: torch.Tensor) -> Optional[str]:
        """The parameter whose memory `t` shares (a saved weight is often a transposed alias)."""
        ptr = t.untyped_storage().data_ptr()
        return next((key for key, p in self.named_parameters() if p.untyped_storage().data_ptr() == ptr), None)


def is_param(t: torch.Tensor) -> bool:
    return isinstance(t, nn.Parameter)
