"""libcst, imported on first use.

Detection (`scan`) runs on stdlib `ast` only; libcst is needed only by `rewrite` and
`locate`'s callers that rewrite. Importing it costs ~0.2 s per process, so the rule
modules name it through this proxy: `cst.Call` imports libcst the first time any
attribute is read and caches each attribute on the proxy, so later reads are plain
instance-attribute lookups. Type checkers see the real module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["cst"]


class _LazyLibcst:
    """Stands in for the `libcst` module until an attribute is first read."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy/pickle/introspection probes: do not import for them
            raise AttributeError(name)
        import libcst

        value = getattr(libcst, name)
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return "<lazy module 'libcst'>"


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _LazyLibcst()
