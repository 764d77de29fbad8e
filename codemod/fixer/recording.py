"""Which leaves got a gradient, read from a runtime recording (REC.pt) without importing torch.

The engine never imports torch, but the leaf-error check needs the fixed run's leaf
names. torch.save writes a zip whose `data.pkl` holds the structure; tensors are
rebuilt by torch functions from persistent ids. Unpickling with stand-ins for every
torch global keeps the plain parts (leaf keys, None for "no gradient") and never
loads tensor data. Used only when the runtime's `verification` lacks `grad_leaves`.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any


class _Stub:
    """Stands for any torch object (a tensor, a storage, a dtype): present, not None."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_Stub":
        return _Stub()

    def __setstate__(self, state: Any) -> None:
        pass


_PLAIN = {("collections", "OrderedDict")} | {("builtins", n) for n in (
    "list", "dict", "tuple", "set", "frozenset", "str", "int", "float", "bool", "complex", "bytes")}


class _Unpickler(pickle.Unpickler):
    """Plain containers are rebuilt; everything else (torch, anything unexpected) is a stand-in."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN:
            return super().find_class(module, name)
        return _Stub

    def persistent_load(self, pid: Any) -> Any:
        return _Stub()


def grad_leaves(path: str | Path) -> list[list[str]] | None:
    """Per backward call, the keys of the leaves whose gradient is not None (None if unreadable)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            data = _Unpickler(archive.open(name)).load()
    except (OSError, StopIteration, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, AttributeError,
            ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    out = []
    for row in data.get("grads") or []:
        out.append([str(key) for key, grad in row if grad is not None])
    return out
