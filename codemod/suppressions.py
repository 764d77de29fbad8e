"""`# inplace-fix: ignore` and `# inplace-fix: ignore[IPF004,IPF001]` comments.

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


class _Located(Protocol):
    line: int
    end_line: int
    code: str


def _codes(match: re.Match[str]) -> frozenset[str]:
    listed = match.group("codes")
    if listed is None:
        return ALL
    codes = frozenset(part.strip().upper() for part in listed.split(",") if part.strip())
    return codes or ALL


def parse_suppressions(text: str) -> dict[int, frozenset[str]]:
    """Line number -> suppressed codes (`ALL` for a bare ignore). Empty when there are none.

    Cheap for the common case: files without the marker are not tokenized.
    """
    if MARKER not in text:
        return {}
    found: dict[int, frozenset[str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                match = _COMMENT.search(token.string)
                if match:
                    line = token.start[0]
                    found[line] = found.get(line, frozenset()) | _codes(match)
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
