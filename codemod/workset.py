"""From command-line paths and options to the list of (file, options) a run processes.

Each command-line path gets the config of its nearest pyproject.toml (so
`migrate repo1/ repo2/` honours each repository's own settings); files are found
the way git sees them, listed once, sorted by the path shown to the user. A
command-line path that is a symlink loop or a dangling symlink stops the run before
any work (`InputError`); in fix mode a file that is a symlink to a file outside its
project is left alone and reported, so `migrate --apply` never writes outside.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.bulk import Job
from inplace_fix.config import Config, load_config, resolve_rules
from inplace_fix.discovery import Target, discover, is_excluded
from inplace_fix.errors import InputError
from inplace_fix.lint import LintOptions
from inplace_fix.lint import FileError
from inplace_fix.paths import find_root, link_problem, resolve, under_root

__all__ = ["WorkSet", "known_codes", "default_codes", "build_workset", "file_options", "config_excludes"]


@dataclass(frozen=True)
class WorkSet:
    """The files to process with their options, and the paths that could not be used."""

    jobs: tuple[Job, ...]
    problems: tuple[FileError, ...]


def known_codes() -> tuple[str, ...]:
    from inplace_fix.transforms.registry import ALL_RULES

    return tuple(rule.code for rule in ALL_RULES)


def default_codes() -> tuple[str, ...]:
    """Rules on by default in bulk mode (IPF005 is opt-in)."""
    from inplace_fix.transforms.registry import ALL_RULES

    return tuple(rule.code for rule in ALL_RULES if rule.bulk_default)


def build_workset(
    paths: Sequence[str],
    select: Sequence[str] | None,
    ignore: Sequence[str],
    fix: bool = False,
    unsafe: bool = False,
    write: bool = False,
    min_confidence: str = "medium",
    cwd: Path | None = None,
    force_exclude: bool = False,
) -> WorkSet:
    """Configs, discovery and rule selection for a run. Raises ConfigError on a bad config
    and InputError on a command-line path that is a symlink loop or a dangling symlink."""
    cwd = cwd or Path.cwd()
    for raw in paths:  # before any config is read: resolving a loop would raise
        link = link_problem(cwd / raw)
        if link is not None:
            raise InputError(f"{raw}: {link}")
    known, defaults = known_codes(), default_codes()
    configs: dict[str, Config] = {}
    for raw in paths:
        configs[raw] = load_config(cwd / raw, known)  # every config is validated before any work
    jobs: dict[Path, Job] = {}
    problems: list[FileError] = []
    for raw in paths:
        config = configs[raw]
        options = LintOptions(rules=resolve_rules(config, select, ignore, defaults), fix=fix, unsafe=unsafe,
                              write=write, min_confidence=min_confidence)
        found = discover([raw], lambda _path, c=config: (c.root, c.exclude), cwd=cwd)
        problems.extend(FileError(path, reason) for path, reason in found.errors)
        roots = _project_roots(cwd / raw, config)
        for target in found.targets:
            if force_exclude and config_excludes(config, target.path):
                continue
            outside = _outside_link(target, roots) if fix else None
            if outside is not None:
                problems.append(FileError(target.display, outside))
                continue
            jobs.setdefault(resolve(target.path), (target, options))
    ordered = sorted(jobs.values(), key=lambda job: job[0].display)
    return WorkSet(jobs=tuple(ordered), problems=tuple(problems))


def file_options(name: str, select: Sequence[str] | None, ignore: Sequence[str], *, fix: bool = False,
                 unsafe: bool = False, min_confidence: str = "medium",
                 cwd: Path | None = None) -> tuple[Config, LintOptions]:
    """The config and options for one file by name (stdin's `--stdin-filename`, which need
    not exist): the rules of the nearest pyproject.toml above where it would be."""
    config = load_config((cwd or Path.cwd()) / name, known_codes())
    options = LintOptions(rules=resolve_rules(config, select, ignore, default_codes()), fix=fix, unsafe=unsafe,
                          min_confidence=min_confidence)
    return config, options


def config_excludes(config: Config, path: Path) -> bool:
    """Whether `config`'s exclude globs match `path` (as named, or with its links resolved)."""
    if not config.exclude:
        return False
    root = resolve(config.root)
    for form in (Path(os.path.abspath(path)), resolve(path)):
        try:
            relative = form.relative_to(root).as_posix()
        except ValueError:
            continue
        return is_excluded(relative, config.exclude)
    return False


def _project_roots(start: Path, config: Config) -> tuple[Path, ...]:
    """The folders a command-line path's files may be rewritten under: the git top-level
    above it (else its own folder) and, when the path lies in it as named, the folder of
    the config that applies (a config found through a symlink is another project's)."""
    folder = Path(os.path.abspath(start))
    if not os.path.isdir(folder):
        folder = folder.parent
    roots = [Path(find_root(folder))]
    named = resolve(folder.parent) / folder.name  # the folder itself not resolved
    config_root = resolve(config.root)
    if named == config_root or config_root in named.parents:
        roots.append(config_root)
    return tuple(roots)


def _outside_link(target: Target, roots: tuple[Path, ...]) -> str | None:
    """Why a file reached through a symlink must not be rewritten, or None."""
    if any(under_root(target.path, root) for root in roots):
        return None
    return (f"a symlink leads to {resolve(target.path)}, outside the project root {roots[0]}: "
            "left alone (rewrite it in its own project)")
