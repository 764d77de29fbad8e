"""`# inplace-fix: ignore`, `# inplace-fix: ignore[IPF004,IPF001]`, `# noqa` and `# noqa: IPF004` comments.

`# noqa` is read as flake8 and ruff read it: a bare `# noqa` (any case, anywhere in the
comment) suppresses every code on its line, `# noqa: IPF004, IPF001` (commas or spaces)
only the codes listed, so `# noqa: E501` leaves our findings alone.

A suppressed finding is neither reported nor rewritten (TorchFix's users complained
that `# noqa` was ignored and even rewritten). Only real comments count: the text
is tokenized, so the same words inside a string literal suppress nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = ["MARKER", "ALL", "parse_suppressions", "is_suppressed"]

MARKER = "inplace-fix"
ALL: frozenset[str] = frozenset({"*"})
_COMMENT = re.compile(r"#\s*inplace-fix\s*:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)
# flake8's own pattern (codes are letters then digits, separated by commas and/or spaces)
_NOQA = re.compile(r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_ANY_MARKER = re.compile(r"inplace-fix|noqa", re.IGNORECASE)


class _Located(Protocol):
    line: int
    end_line: int
    code: str


def _codes(match: re.Match[str]) -> frozenset[str]:
    listed = match.group("codes")
    if listed is None:
        return ALL
    codes = frozenset(part.upper() for part in re.split(r"[,\s]+", listed) if part)
    return codes or ALL


def _comment_codes(comment: str) -> frozenset[str]:
    """The codes one comment token suppresses (empty: none)."""
    found: frozenset[str] = frozenset()
    for pattern in (_COMMENT, _NOQA):
        match = pattern.search(comment)
        if match:
            found |= _codes(match)
    return found


def parse_suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line number -> suppressed codes (`ALL` for a bare ignore). Empty when there are none.

    Cheap for the common case: files without the marker are not tokenized.
    """
    if not _ANY_MARKER.search(text):
        return {}
    found: dict[int, frozenset[str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                codes = _comment_codes(token.string)
                if codes:
                    line = token.start[0]
                    found[line] = found.get(line, frozenset()) | codes
    except (tokenize.TokenError, SyntaxError):
        pass  # a file that does not tokenize is reported by the parser instead
    return found


def is_suppressed(finding: _Located, suppressions: Mapping[int, Iterable[str]]) -> bool:
    """Whether a comment on the finding's first (or last) line suppresses its code."""
    for line in {finding.line, finding.end_line or finding.line}:
        codes = suppressions.get(line)
        if codes is not None and ("*" in codes or finding.code in codes):
            return True
    return False
