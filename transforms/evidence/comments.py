"""Did the author ask, in a comment, to keep this operation as written?

Code that updates a tensor in place on purpose often says so (`# NOTE leave as '+='`,
`# must be in-place: the caller reads x`). A rewrite there undoes a decision someone made
knowingly, so such a finding keeps no automatic fix. Only comments count (a string that
looks like one does not), and only on the statement's own lines or in the comment lines
right above it; the phrases are few and specific, so an unrelated remark does not block a fix.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from inplace_fix.transforms.context import FileContext

# The phrases, case-insensitive: an explicit request to keep the operation.
KEEP_PHRASES = re.compile(
    r"\bnote\b\W*leave\s+(?:it\s+)?as\b"
    r"|\bleave\s+(?:it\s+)?as\s+['\"`]"
    r"|\bkeep\s+(?:it\s+|this\s+)?in[-_ ]?place\b"
    r"|\bmust\s+(?:be|stay|remain)\s+in[-_ ]?place\b"
    r"|\bdo\s+not\s+change\b|\bdon'?t\s+change\b",
    re.IGNORECASE,
)
# A `#` followed on its line by a phrase: the cheap look at the whole file (the regex engine
# jumps from one `#` to the next) before the tokenizer says which of them are comments.
_IN_A_COMMENT = re.compile(r"#[^\n]*?(?:" + KEEP_PHRASES.pattern + ")", re.IGNORECASE)


def keep_request(ctx: FileContext, stmt: ast.stmt) -> str | None:
    """The reason to leave `stmt` alone when a comment on its lines, or in the comment lines
    directly above it, asks to keep the operation (quoting the comment); else None."""
    comments = _comments(ctx)
    if not comments:
        return None
    first, last = stmt.lineno, stmt.end_lineno or stmt.lineno
    lines = list(range(first, last + 1))
    above = first - 1
    while above in comments and not ctx.source_line(above)[:comments[above][0]].strip():
        lines.append(above)  # a comment line of its own, right above (a run of them)
        above -= 1
    for line in lines:
        found = comments.get(line)
        if found is not None and KEEP_PHRASES.search(found[1]):
            return f"the author's comment asks to keep the operation as written: `{found[1].strip()}`"
    return None


def _comments(ctx: FileContext) -> dict[int, tuple[int, str]]:
    """line -> (column, text) of its comment, for a file where some comment holds a keep phrase (else empty:
    most files never pay for the tokenizer)."""
    cached = ctx._cache.get("keep_comments")
    if cached is not None:
        return cached
    out: dict[int, tuple[int, str]] = {}
    if _IN_A_COMMENT.search(ctx.source):
        try:
            for tok in tokenize.generate_tokens(io.StringIO(ctx.source).readline):
                if tok.type == tokenize.COMMENT:
                    out[tok.start[0]] = (tok.start[1], tok.string)
        except (tokenize.TokenError, SyntaxError):
            out = {}
    ctx._cache["keep_comments"] = out
    return out
