"""One file, start to finish: read, analyze, apply ignore comments, rewrite, check, write.

This is the unit of work `bulk` hands to a worker process, so it never raises:
every problem becomes `FileResult.error` with a reason the user can act on, and
the run goes on with the next file. `scan` uses only the stdlib-`ast` half;
libcst parses a file only when it has findings to rewrite.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from inplace_fix.fileio import SourceError, SourceFile, encode, read_source, write_atomic
from inplace_fix.patch import unified_diff
from inplace_fix.suppressions import is_suppressed, parse_suppressions
from inplace_fix.transforms.base import Finding, FixSafety, Position

__all__ = ["LintOptions", "FileResult", "FileError", "lint_file"]


@dataclass(frozen=True)
class LintOptions:
    """What to do with each file; the same for every file of a run (pickled to workers)."""

    rules: frozenset[str]
    fix: bool = False  # rewrite (migrate); False: findings only (scan)
    unsafe: bool = False  # also apply fixes whose safety is UNSAFE
    write: bool = False  # write rewritten files (migrate --apply)
    min_confidence: str = "medium"  # findings less sure than this are neither reported nor rewritten


@dataclass(frozen=True)
class FileError:
    """A path the run could not process (left alone), with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileResult:
    """What happened to one file. `error` set means the file was left alone.

    `findings` are the reported ones (after ignore comments); in fix mode each of
    them lands in exactly one of `fixed`, `unsafe_skipped` or `unfixed`.
    """

    path: Path
    display: str
    findings: tuple[Finding, ...] = ()
    suppressed: int = 0
    fixed: tuple[Finding, ...] = ()
    unsafe_skipped: tuple[Finding, ...] = ()
    unfixed: tuple[Finding, ...] = ()
    diff: str = ""  # unified diff of the rewrite ("" when the file does not change)
    encoding: str = "utf-8"  # the file's encoding: the diff is printed in it so that `git apply` takes it
    written: bool = False
    error: str | None = None
    error_kind: str = ""  # "read" | "parse" | "rewrite" | "write" | "internal"
    notes: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.diff)


_CONFIDENCE_RANK = {"low": 0, "medium": 1, "high": 2}


def _syntax_reason(exc: SyntaxError) -> str:
    where = f" (line {exc.lineno}, column {exc.offset})" if exc.lineno else ""
    return f"cannot parse: {exc.msg}{where}"


def _analyze(source: SourceFile, display: str, rules: Collection[str]) -> list[Finding]:
    from inplace_fix.transforms.api import analyze

    with warnings.catch_warnings():  # invalid escape sequences etc. are not our findings
        warnings.simplefilter("ignore")
        return analyze(source.text, display, select=rules)


def _compiles(text: str, display: str) -> str | None:
    """None when `text` compiles as a module, else the reason it does not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, display, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _partition(findings: list[Finding], unsafe: bool) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """(to rewrite, unsafe skipped, no automatic fix)."""
    targets, skipped, unfixed = [], [], []
    for finding in findings:
        if not finding.fixable or finding.safety == FixSafety.NONE:
            unfixed.append(finding)
        elif finding.safety == FixSafety.UNSAFE and not unsafe:
            skipped.append(finding)
        else:
            targets.append(finding)
    return targets, skipped, unfixed


def _rewrite(source: SourceFile, display: str, findings: list[Finding], options: LintOptions, result: dict) -> None:
    """Fill `result` with the fix-mode fields; may set an error and leave the file alone."""
    targets, skipped, unfixed = _partition(findings, options.unsafe)
    result["unsafe_skipped"] = tuple(skipped)
    if not targets:
        result["unfixed"] = tuple(unfixed)
        return
    from inplace_fix.transforms.api import rewrite

    wanted: dict[str, set[Position]] = {}
    for finding in targets:
        wanted.setdefault(finding.code, set()).add(finding.position)
    try:
        outcome = rewrite(source.text, {code: frozenset(spots) for code, spots in sorted(wanted.items())})
    except Exception as exc:  # libcst.ParserSyntaxError, or a rule that failed on odd code
        kind = "libcst cannot parse this file" if type(exc).__name__ == "ParserSyntaxError" else "rewrite failed"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        result.update(error=f"{kind}: {type(exc).__name__}: {first}", error_kind="rewrite",
                      unfixed=tuple(unfixed) + tuple(targets))
        return
    by_rule = getattr(outcome, "applied_by_rule", ())
    if by_rule:
        done = {(code, Position(position.line, position.col)) for code, position in by_rule}
        fixed = [f for f in targets if (f.code, f.position) in done]
    else:
        positions = set(outcome.applied)
        fixed = [f for f in targets if f.position in positions]
    unfixed += [f for f in targets if f not in fixed]
    result["unfixed"] = tuple(sorted(unfixed))
    if outcome.source == source.text:
        result["unfixed"] = tuple(sorted(unfixed + fixed))
        return
    problem = _compiles(outcome.source, display)
    if problem is not None:
        original_problem = _compiles(source.text, display)
        reason = (f"the file does not compile even before any rewrite: {original_problem}" if original_problem
                  else f"internal error: the rewritten file would not compile ({problem}); file left alone")
        result.update(error=reason, error_kind="rewrite", unfixed=tuple(sorted(unfixed + fixed)))
        return
    try:
        data = encode(source, outcome.source)
    except SourceError as exc:
        result.update(error=exc.reason, error_kind="rewrite", unfixed=tuple(sorted(unfixed + fixed)))
        return
    result["fixed"] = tuple(fixed)
    # The patch must hold the file's own bytes for `git apply`: its BOM on line 1
    # (when line 1 is context) and, on output, its encoding (see `encoding`).
    bom = "\ufeff" if source.bom else ""
    result["diff"] = unified_diff(display, bom + source.text, bom + outcome.source)
    result["encoding"] = source.encoding
    if options.write:
        try:
            write_atomic(source.path, data, source.mode)
        except OSError as exc:
            result.update(error=f"cannot write: {exc.strerror or exc}", error_kind="write")
            return
        result["written"] = True


def lint_file(path: Path, display: str, options: LintOptions) -> FileResult:
    """Analyze (and in fix mode rewrite) one file; never raises."""
    result: dict = {}
    try:
        try:
            source = read_source(path)
        except SourceError as exc:
            return FileResult(path, display, error=exc.reason, error_kind="read")
        try:
            found = _analyze(source, display, options.rules)
        except SyntaxError as exc:
            return FileResult(path, display, error=_syntax_reason(exc), error_kind="parse")
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            return FileResult(path, display, error=f"cannot parse: {type(exc).__name__}: {exc}", error_kind="parse")
        found = [f for f in found if _CONFIDENCE_RANK[f.confidence.value] >= _CONFIDENCE_RANK[options.min_confidence]]
        suppressions = parse_suppressions(source.text) if found else {}
        findings = [f for f in found if not is_suppressed(f, suppressions)]
        result.update(findings=tuple(findings), suppressed=len(found) - len(findings))
        if options.fix and findings:
            _rewrite(source, display, findings, options, result)
        return FileResult(path, display, **result)
    except Exception as exc:  # a bug of ours must not stop a run over a thousand files
        return FileResult(path, display, error=f"internal error: {type(exc).__name__}: {exc}", error_kind="internal",
                          **{k: v for k, v in result.items() if k in ("findings", "suppressed")})
