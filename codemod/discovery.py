"""Which files a `scan` or `migrate` reads: the ones git would show you.

Inside a git work tree git lists them (`ls-files --cached --others
--exclude-standard`: tracked plus untracked-but-not-ignored); elsewhere, or when
git is missing, a walk that honours .gitignore files. Virtualenvs, build output
and caches are always skipped: rewriting a vendored copy of torch is never wanted.
A file named on the command line is always read.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.gitignore import IgnoreRule, is_ignored, parse_gitignore
from inplace_fix.paths import link_problem, resolve

__all__ = ["SKIP_DIRS", "Discovered", "Target", "discover", "display_path", "is_excluded"]

SKIP_DIRS = frozenset(
    {".git", "__pycache__", "build", "dist", "site-packages", "node_modules", ".tox", ".eggs",
     ".hg", ".svn", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
)
SOURCE_SUFFIXES = (".py", ".ipynb")  # a notebook's code cells are read as one script (notebook_lint)


@dataclass(frozen=True)
class Target:
    """A file to read: its absolute path and the path shown to the user."""

    path: Path
    display: str


@dataclass(frozen=True)
class Discovered:
    """The files found for one command-line path, and the problems met on the way."""

    targets: tuple[Target, ...]
    errors: tuple[tuple[str, str], ...]  # (display path, reason)


def display_path(path: Path, cwd: Path | None = None) -> str:
    """Relative to the current folder when under it, absolute otherwise; always '/'-separated."""
    cwd = cwd or Path.cwd()
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def is_excluded(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a root-relative '/'-path matches an exclude glob.

    A glob without '/' matches any single path component (`tests`, `*_pb2.py`);
    one with '/' matches the path from the root or any of its parent folders
    (`src/legacy`, `src/*/gen/**`).
    """
    parts = relative.split("/")
    for pattern in patterns:
        pattern = pattern.strip().rstrip("/")
        if not pattern:
            continue
        if "/" not in pattern:
            if any(fnmatch.fnmatchcase(part, pattern) for part in parts):
                return True
            continue
        pattern = pattern.lstrip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(prefix, pattern + "/**"):
                return True
    return False


class _VenvCache:
    """Remembers which folders are virtualenvs (hold a pyvenv.cfg) so each is checked once."""

    def __init__(self) -> None:
        self._known: dict[Path, bool] = {}

    def is_venv(self, folder: Path) -> bool:
        known = self._known.get(folder)
        if known is None:
            known = self._known[folder] = (folder / "pyvenv.cfg").is_file()
        return known


def _skipped_folder(name: str, folder: Path, venvs: _VenvCache) -> bool:
    return name in SKIP_DIRS or name.endswith(".egg-info") or venvs.is_venv(folder)


# Static means static: a repository's own config must not make discovery run its programs
# (`core.fsmonitor` is run by `git ls-files`; the others by commands git may start on the way).
NO_REPOSITORY_PROGRAMS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.pager=cat",
                          "-c", "diff.external=", "-c", "core.sshCommand=", "-c", "credential.helper=")


def _git_files(folder: Path) -> list[Path] | None:
    """Files git shows under `folder`, or None when git is missing or this is not a work tree."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, "-C", str(folder), *NO_REPOSITORY_PROGRAMS,
             "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return [folder / name for name in dict.fromkeys(names) if name]


def _walk_files(folder: Path, venvs: _VenvCache) -> list[Path]:
    """Every file under `folder` that the .gitignore files met on the way do not ignore."""
    inherited: list[IgnoreRule] = []
    for parent in reversed(folder.parents):  # .gitignore files above the folder apply too
        if (parent / ".git").exists():
            inherited = []
        inherited.extend(parse_gitignore(parent / ".gitignore"))
    files: list[Path] = []
    stack: list[tuple[Path, tuple[IgnoreRule, ...]]] = [(folder, tuple(inherited))]
    while stack:
        current, rules = stack.pop()
        rules = rules + parse_gitignore(current / ".gitignore")
        try:
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symlink loop named *.py is reported as unreadable, like a dangling one
                if entry.name.endswith(SOURCE_SUFFIXES) and entry.is_symlink() and not is_ignored(path, False, rules):
                    files.append(path)
                continue
            if is_dir:
                if entry.is_symlink() or _skipped_folder(entry.name, path, venvs):
                    continue
                if not is_ignored(path, True, rules):
                    stack.append((path, rules))
            elif entry.name.endswith(SOURCE_SUFFIXES) and not is_ignored(path, False, rules):
                # a FIFO, socket or device named *.py would block or fail the read: skip it
                # (a dangling symlink stays, to be reported as unreadable)
                if not entry.is_file() and os.path.exists(path):
                    continue
                files.append(path)
    return files


def _in_skipped_folder(path: Path, top: Path, venvs: _VenvCache) -> bool:
    """Whether any folder between `top` (excluded) and `path` must always be skipped."""
    relative = path.relative_to(top).parts[:-1]
    folder = top
    for name in relative:
        folder = folder / name
        if _skipped_folder(name, folder, venvs):
            return True
    return False


def discover(
    paths: Sequence[str | Path],
    exclude_for: Callable[[Path], tuple[Path, tuple[str, ...]]],
    cwd: Path | None = None,
) -> Discovered:
    """All source files under `paths`, sorted by display path, each listed once.

    `exclude_for(path)` gives the (root, exclude globs) of the config that applies
    to a command-line path; excluded files are skipped unless named explicitly.
    Missing paths are reported as errors, not raised.
    """
    cwd = (cwd or Path.cwd()).resolve()
    venvs = _VenvCache()
    found: dict[Path, Target] = {}
    errors: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(os.path.normpath(os.path.join(cwd, raw)))
        shown = display_path(path, cwd)
        if not os.path.lexists(path):
            errors.append((str(raw), "no such file or directory"))
            continue
        if path.is_file():
            found.setdefault(resolve(path), Target(path, shown))
            continue
        if not path.is_dir():
            errors.append((str(raw), link_problem(path) or "not a regular file or directory"))
            continue
        root, patterns = exclude_for(path)
        listed = _git_files(path)
        if listed is None:
            candidates = _walk_files(path, venvs)
        else:
            candidates = [p for p in listed if p.name.endswith(SOURCE_SUFFIXES) and p.is_file()]
        for candidate in candidates:
            if _in_skipped_folder(candidate, path, venvs):
                continue
            if patterns:
                try:
                    relative = candidate.relative_to(root).as_posix()
                except ValueError:
                    relative = candidate.relative_to(path).as_posix()
                if is_excluded(relative, patterns):
                    continue
            key = resolve(candidate)  # never raises, even on a symlink loop
            # a file reached both directly and through a symlink is reported under its real
            # name (annotations and diffs must land on the file git tracks, not on the link)
            if key not in found or (found[key].path.is_symlink() and not candidate.is_symlink()):
                found[key] = Target(candidate, display_path(candidate, cwd))
    targets = tuple(sorted(found.values(), key=lambda target: target.display))
    return Discovered(targets=targets, errors=tuple(errors))
