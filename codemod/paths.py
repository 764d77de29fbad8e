"""Where a file lies: how it is shown, which project it belongs to, whether we may edit it.

One module for the three questions every command asks of a path, so that the
diagnosis, the fixer and the static commands show the same path the same way and
agree on what "under the project root" means (symlinks resolved on both sides).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["display_path", "find_root", "resolve", "is_library", "under_root", "editable", "link_problem"]

_LIBRARY_PARTS = ("site-packages", "dist-packages")


def resolve(path: str | os.PathLike[str]) -> Path:
    """The real path (symlinks resolved), as every containment check compares them."""
    return Path(os.path.realpath(path))


def display_path(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> str:
    """`path` relative to `cwd` when it lies under it (posix separators), else absolute."""
    base = os.path.abspath(os.fspath(cwd)) if cwd is not None else os.getcwd()
    absolute = os.path.abspath(os.path.join(base, os.fspath(path)))
    for target, folder in ((absolute, base), (os.path.realpath(absolute), os.path.realpath(base))):
        try:
            rel = os.path.relpath(target, folder)
        except ValueError:  # another drive on Windows
            continue
        if rel == os.curdir:
            return "."
        if not (rel == os.pardir or rel.startswith(os.pardir + os.sep)):
            return rel.replace(os.sep, "/")
    return absolute


def find_root(start: str | os.PathLike[str]) -> str:
    """The project root for a folder: the git top-level above it, else the folder itself.

    The folders are walked as the user named them, not through their symlinks: for
    `repo/vendor -> /elsewhere` the project is `repo`, so a file reached through the
    link lies outside it. The answer has its symlinks resolved, like `resolve`.
    """
    here = Path(os.path.abspath(start))
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(resolve(folder))
    return str(resolve(here))


def is_library(path: str | os.PathLike[str]) -> bool:
    """Installed code (site-packages, dist-packages)."""
    return any(part in _LIBRARY_PARTS for part in resolve(path).parts)


def under_root(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """`path` is `root` or lies below it, both with symlinks resolved."""
    target, base = resolve(path), resolve(root)
    return target == base or base in target.parents


def editable(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """A file the fixer may rewrite: under the project root and not installed code."""
    if is_library(path) and not is_library(root):
        return False
    return under_root(path, root)


def link_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be opened because of a symlink ("a symlink loop", "a dangling
    symlink to X"), or None. Said before any work, instead of a traceback or a vague
    "no such file"."""
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno != errno.ENOENT or not os.path.islink(path):
            return None
    try:
        return f"a dangling symlink to {os.readlink(path)}"
    except OSError:
        return "a dangling symlink"
