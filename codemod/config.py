"""`[tool.inplace-fix]` in the nearest pyproject.toml, and which rules a run uses.

A typo in the config must stop the run (exit 2) rather than silently run every
rule, so unknown keys and wrong types are errors, as are unknown rule codes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inplace_fix.errors import InputError

__all__ = ["ConfigError", "Config", "find_config", "load_config", "parse_codes", "resolve_rules"]

SECTION = "inplace-fix"
KNOWN_KEYS = ("exclude", "ignore", "select")


class ConfigError(InputError):
    """A configuration or option the user must correct; the message says how."""


@dataclass(frozen=True)
class Config:
    """The `[tool.inplace-fix]` table; `root` is the folder that holds the pyproject.toml.

    `select` is None when the table does not set it (use each rule's bulk default).
    Exclude globs are relative to `root`.
    """

    root: Path
    path: Path | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = field(default=())


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(f"{path}: reading pyproject.toml on Python 3.10 needs the 'tomli' package") from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.inplace-fix] table."""
    start = start.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            try:
                text = pyproject.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if SECTION in text and SECTION in _load_toml(pyproject).get("tool", {}):
                return pyproject
    return None


def _strings(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.{SECTION}] {key} must be a list of strings")
    return tuple(value)


def load_config(start: Path, known_codes: Iterable[str]) -> Config:
    """The config that applies to `start` (defaults when there is none); validated."""
    pyproject = find_config(start)
    if pyproject is None:
        folder = start.resolve()
        return Config(root=folder if folder.is_dir() else folder.parent)
    table = _load_toml(pyproject)["tool"][SECTION]
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.{SECTION}] must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"{pyproject}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"in [tool.{SECTION}] (known keys: {', '.join(KNOWN_KEYS)})"
        )
    known = tuple(known_codes)
    where = f"{pyproject}: [tool.{SECTION}]"
    select = table.get("select")
    return Config(
        root=pyproject.parent,
        path=pyproject,
        select=None if select is None else parse_codes(_strings(select, "select", pyproject), known, where + " select"),
        ignore=parse_codes(_strings(table.get("ignore", []), "ignore", pyproject), known, where + " ignore"),
        exclude=_strings(table.get("exclude", []), "exclude", pyproject),
    )


def parse_codes(values: Sequence[str], known: Sequence[str], where: str) -> tuple[str, ...]:
    """Rule codes from repeated and/or comma-separated values; ALL means every rule.

    Raises ConfigError naming the bad code and the known ones, so a typo never
    silently selects nothing.
    """
    codes: list[str] = []
    for value in values:
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                continue
            if code == "ALL":
                codes.extend(known)
            elif code in known:
                codes.append(code)
            else:
                raise ConfigError(f"{where}: unknown rule code {part.strip()!r} (known: {', '.join(known)}, ALL)")
    return tuple(dict.fromkeys(codes))


def resolve_rules(
    config: Config,
    cli_select: Sequence[str] | None,
    cli_ignore: Sequence[str],
    defaults: Sequence[str],
) -> frozenset[str]:
    """The rule codes a run uses.

    The command line's --select replaces the config's select, and a code named on
    the command line wins over the config's ignore; --ignore adds to the config's.
    With no select anywhere, the rules on by default in bulk mode run (IPF005 is
    opt-in: it runs only when selected explicitly).
    """
    if cli_select:
        selected = set(cli_select)
        ignored = (set(config.ignore) - selected) | set(cli_ignore)
    else:
        selected = set(config.select) if config.select is not None else set(defaults)
        ignored = set(config.ignore) | set(cli_ignore)
    return frozenset(selected - ignored)
