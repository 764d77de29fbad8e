"""`--statistics`: how many findings each rule has, instead of the findings themselves.

For a first look at a large repository: which rules matter here, and how much of it
`migrate` can rewrite (`[*]`: the rule has fixable findings).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from inplace_fix.lint import FileResult
from inplace_fix.transforms.base import Finding, FixSafety

__all__ = ["statistics_rows", "render_statistics", "render_migrate_statistics"]


def _names() -> dict[str, str]:
    from inplace_fix.transforms.registry import ALL_RULES

    return {rule.code: rule.name for rule in ALL_RULES}


def statistics_rows(findings: Iterable[Finding]) -> list[dict[str, object]]:
    """Per rule, most findings first (then by code): code, name, count, and how many have a rewrite."""
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    for f in findings:
        counts[f.code] += 1
        fixable[f.code] += f.fixable and f.safety != FixSafety.NONE
    names = _names()
    return [{"code": code, "name": names.get(code, ""), "count": counts[code], "fixable": fixable[code]}
            for code in sorted(counts, key=lambda c: (-counts[c], c))]


def render_statistics(findings: Sequence[Finding], fmt: str = "text") -> str:
    """`COUNT  CODE  [*] name` lines (`[*]`: some of them have an automatic fix), or JSON rows."""
    rows = statistics_rows(findings)
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(str(row["count"])) for row in rows), default=1)
    return "".join(f"{row['count']:>{width}}  {row['code']}  {'[*]' if row['fixable'] else '   '} {row['name']}\n"
                   for row in rows)


def render_migrate_statistics(results: Sequence[FileResult], apply: bool) -> str:
    """Per rule: findings, fixed (or would fix), unsafe fixes skipped, no automatic fix."""
    columns = ("findings", "fixed" if apply else "would fix", "unsafe skipped", "no fix")
    counts: dict[str, list[int]] = {}
    for r in results:
        if r.changed and (r.written or not apply):
            fixed = r.fixed
        else:
            fixed = ()
        for index, group in enumerate((r.findings, fixed, r.unsafe_skipped, r.unfixed)):
            for f in group:
                counts.setdefault(f.code, [0, 0, 0, 0])[index] += 1
    if not counts:
        return ""
    names = _names()
    header = f"{'rule':<6}  {'name':<20}  " + "  ".join(f"{c:>14}" for c in columns)
    lines = [header] + [f"{code:<6}  {names.get(code, ''):<20}  " + "  ".join(f"{n:>14}" for n in counts[code])
                        for code in sorted(counts, key=lambda c: (-counts[c][0], c))]
    return "".join(line.rstrip() + "\n" for line in lines)
