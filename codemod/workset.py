"""From command-line paths and options to the list of (file, options) a run processes.

Each command-line path gets the config of its nearest pyproject.toml (so
`migrate repo1/ repo2/` honours each repository's own settings); files are found
the way git sees them, listed once, sorted by the path shown to the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.bulk import Job
from inplace_fix.config import Config, load_config, resolve_rules
from inplace_fix.discovery import discover
from inplace_fix.lint import LintOptions
from inplace_fix.lint import FileError

__all__ = ["WorkSet", "known_codes", "default_codes", "build_workset"]


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
) -> WorkSet:
    """Configs, discovery and rule selection for a run. Raises ConfigError on a bad config."""
    cwd = cwd or Path.cwd()
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
        for target in found.targets:
            jobs.setdefault(target.path.resolve(), (target, options))
    ordered = sorted(jobs.values(), key=lambda job: job[0].display)
    return WorkSet(jobs=tuple(ordered), problems=tuple(problems))
