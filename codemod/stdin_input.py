"""One source read from stdin (`scan -`, `migrate -`), linted as the file it names.

The bytes go through the same `lint_file` as a file on disk (encoding, BOM, line endings,
time budget, suppressions), from a private temporary copy; `--stdin-filename` decides the
path shown, the `[tool.inplace-fix]` config that applies and, with `force_exclude`, whether
the source is skipped. Nothing the user owns is written: the rewrite comes back as bytes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from inplace_fix.lint import FileResult, lint_file
from inplace_fix.workset import config_excludes, file_options

__all__ = ["STDIN", "StdinResult", "lint_stdin"]

STDIN = "-"


@dataclass(frozen=True)
class StdinResult:
    """The linted source (None when the config excludes it) and the bytes to print for a rewrite
    (the new source, or the input unchanged)."""

    file: FileResult | None
    output: bytes


def lint_stdin(data: bytes, name: str | None, select: tuple[str, ...] | None, ignore: tuple[str, ...], *,
               fix: bool, unsafe: bool, min_confidence: str, file_timeout: float | None,
               force_exclude: bool, cwd: Path) -> StdinResult:
    """Lint (and with `fix`, rewrite) `data` as if it were the file `name` (default `-`)."""
    shown = name or STDIN
    where = cwd / (name or "stdin.py")
    config, options = file_options(str(where), select, ignore, fix=fix, unsafe=unsafe,
                                   min_confidence=min_confidence, cwd=cwd)
    if name and force_exclude and config_excludes(config, where):
        return StdinResult(None, data)
    options = replace(options, write=fix, file_timeout=file_timeout)
    display = os.path.normpath(shown).replace(os.sep, "/") if name else STDIN
    with tempfile.TemporaryDirectory(prefix="inplace-fix-stdin-") as folder:
        copy = Path(folder) / (Path(name).name if name and name.endswith(".py") else "stdin.py")
        copy.write_bytes(data)
        result = lint_file(copy, display, options)
    output = result.pending.data if result.pending is not None and not result.error else data
    return StdinResult(replace(result, path=where, pending=None), output)
