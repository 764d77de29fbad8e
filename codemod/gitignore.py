"""A small .gitignore matcher for folders that are not in a git work tree.

Inside a work tree git itself lists the files; this covers the rest reasonably:
comments, `!` negation, trailing `/` (folders only), anchored patterns (a `/`
anywhere but the end), `*`, `?`, `[...]` and `**`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IgnoreRule", "parse_gitignore", "is_ignored"]


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern line of a .gitignore, compiled; `base` is the folder holding it."""

    base: Path
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """Glob -> regex over a '/'-separated path relative to the .gitignore's folder."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def parse_gitignore(path: Path) -> tuple[IgnoreRule, ...]:
    """The rules of one .gitignore file (unreadable files give no rules)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    rules: list[IgnoreRule] = []
    for raw in lines:
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        rules.append(IgnoreRule(path.parent, regex, negate, dir_only))
    return tuple(rules)


def is_ignored(path: Path, is_dir: bool, rules: tuple[IgnoreRule, ...]) -> bool:
    """Whether the last matching rule (git's order: later files and lines win) ignores `path`."""
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        try:
            relative = path.relative_to(rule.base).as_posix()
        except ValueError:
            continue
        if rule.regex.match(relative):
            ignored = not rule.negate
    return ignored
