"""Where a file lies: inside the project (editable) or not (never edited)."""

from __future__ import annotations

import os
from pathlib import Path

_LIBRARY_PARTS = ("site-packages", "dist-packages")

# The fields of a runtime problem that hold one site, and those that hold a list of sites.
SITE_KEYS = ("saved_at", "modified_at", "construction_at", "alias_at", "view_created_at", "backward_at")
SITE_LIST_KEYS = ("library_frames", "construction_stack")


def sites_in(problem: dict) -> list[dict]:
    """Every site dict of a problem (to rewrite their `file` in place)."""
    out = [problem[key] for key in SITE_KEYS if isinstance(problem.get(key), dict)]
    for key in SITE_LIST_KEYS:
        out.extend(site for site in problem.get(key) or () if isinstance(site, dict))
    return out


def resolve(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def is_library(path: str | Path) -> bool:
    """True for installed code (site-packages, dist-packages) and the stdlib."""
    parts = resolve(path).parts
    return any(part in _LIBRARY_PARTS for part in parts)


def editable(path: str | Path, root: str | Path) -> bool:
    """A file the fixer may rewrite: under the project root and not installed code."""
    target, base = resolve(path), resolve(root)
    if is_library(target) and not is_library(base):
        return False
    return target == base or base in target.parents


def display(path: str | Path, cwd: str | Path | None = None) -> str:
    """The path relative to the current directory when it lies under it (DESIGN.md)."""
    target = resolve(path)
    base = resolve(cwd if cwd is not None else os.getcwd())
    if base in target.parents:
        return target.relative_to(base).as_posix()
    return str(path)
