"""The closing summary of `scan` and `migrate`: counts first, then what needs a human."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from inplace_fix.console import Console
from inplace_fix.lint import FileResult
from inplace_fix.lint import FileError
from inplace_fix.transforms.base import Finding

__all__ = ["by_rule", "problem_lines", "scan_summary", "migrate_summary"]

LIST_MAX = 20  # findings listed per category; the rest are counted (scan lists them all)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def by_rule(findings: Iterable[Finding]) -> str:
    """`IPF001 x3, IPF004 x1` in code order."""
    counts = Counter(f.code for f in findings)
    return ", ".join(f"{code} x{counts[code]}" for code in sorted(counts))


def problem_lines(problems: Sequence[FileError], console: Console) -> list[str]:
    """`path: error: reason` for each file left alone."""
    return [f"{console.style(p.path, bold=True)}: {console.style('error', fg='red', bold=True)}: {p.reason}"
            for p in problems]


def scan_summary(findings: Sequence[Finding], files: int, suppressed: int, problems: int) -> str:
    """One line: what was found where."""
    in_files = len({f.path for f in findings})
    text = (f"Found {_plural(len(findings), 'finding')} ({by_rule(findings)}) in {in_files} of "
            f"{_plural(files, 'file')} scanned." if findings else f"No findings in {_plural(files, 'file')} scanned.")
    if suppressed:
        text += f" {suppressed} suppressed by ignore comments."
    if problems:
        text += f" {_plural(problems, 'file')} could not be processed (listed above)."
    return text


def _listing(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for f in findings[:LIST_MAX]:
        lines.append(f"  {f.path}:{f.line}:{f.col + 1}: {f.code} {f.message}")
        if f.no_fix:  # the rule's rewrite exists but would change what the program computes here
            lines.append(f"      not rewritten: {f.no_fix}")
    if len(findings) > LIST_MAX:
        lines.append(f"  ... and {len(findings) - LIST_MAX} more (`inplace-fix scan` lists them all)")
    return lines


def migrate_summary(results: Sequence[FileResult], problems: int, apply: bool) -> str:
    """Files scanned and changed, fixes by rule, unsafe fixes skipped, findings left to a human."""
    scanned = len(results)
    changed = [r for r in results if r.changed and (r.written or not apply)]
    fixed = [f for r in changed for f in r.fixed]
    skipped = [f for r in results for f in r.unsafe_skipped]
    unfixed = [f for r in results for f in r.unfixed]
    verb = "changed" if apply else "would change"
    lines = [f"{_plural(scanned, 'file')} scanned, {_plural(len(changed), 'file')} {verb}"
             + (f", {_plural(len(fixed), 'fix', 'fixes')} ({by_rule(fixed)})." if fixed else ".")]
    if skipped:
        lines.append(f"{_plural(len(skipped), 'unsafe fix', 'unsafe fixes')} skipped ({by_rule(skipped)}); "
                     "they can change behaviour when another name holds the same tensor. "
                     "Review them, then rerun with --unsafe-fixes:")
        lines += _listing(skipped)
    if unfixed:
        lines.append(f"{_plural(len(unfixed), 'finding')} with no automatic fix ({by_rule(unfixed)}); "
                     "change these by hand or add `# inplace-fix: ignore[CODE]`:")
        lines += _listing(unfixed)
    if problems:
        lines.append(f"{_plural(problems, 'file')} could not be processed and {'were' if problems > 1 else 'was'} "
                     "left alone (listed above).")
    if not apply and changed:
        lines.append("Dry run: nothing was written. Rerun with --apply to write these changes.")
    return "\n".join(lines) + "\n"
