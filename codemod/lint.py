"""One file, start to finish: read, analyze, apply ignore comments, rewrite, check.

This is the unit of work `bulk` hands to a worker process, so it never raises:
every problem becomes `FileResult.error` with a reason the user can act on, and
the run goes on with the next file. `scan` uses only the stdlib-`ast` half;
libcst parses a file only when it has findings to rewrite. It never writes: with
`LintOptions.write` the new bytes come back as `FileResult.pending`, and the one
process that owns the run's lock and journal writes them (`batch_write`).
"""

from __future__ import annotations

import gc
import hashlib
import re
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from inplace_fix import notebook_lint
from inplace_fix.fileio import SourceError, SourceFile, encode, read_source
from inplace_fix.notebook import NotebookError, is_notebook
from inplace_fix.patch import unified_diff
from inplace_fix.suppressions import is_suppressed, parse_suppressions
from inplace_fix.transforms.base import Finding, FixSafety, Position

__all__ = ["DEFAULT_FILE_TIMEOUT", "LintOptions", "FileResult", "FileError", "FileTimeout", "PendingWrite",
           "lint_file"]

DEFAULT_FILE_TIMEOUT = 30.0  # seconds: far above any real file (a 5 MB file takes seconds), a hang is cut
RETRY = 0.05  # seconds between further alarms once the budget is spent (see _budget)


@dataclass(frozen=True)
class LintOptions:
    """What to do with each file; the same for every file of a run (pickled to workers)."""

    rules: frozenset[str]
    fix: bool = False  # rewrite (migrate); False: findings only (scan)
    unsafe: bool = False  # also apply fixes whose safety is UNSAFE
    write: bool = False  # return the rewritten bytes for writing (migrate --apply): FileResult.pending
    min_confidence: str = "medium"  # findings less sure than this are neither reported nor rewritten
    file_timeout: float | None = DEFAULT_FILE_TIMEOUT  # seconds of wall time per file; None or 0: no budget


@dataclass(frozen=True)
class FileError:
    """A path the run could not process (left alone), with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class PendingWrite:
    """The bytes a rewrite would write, and the hash of the bytes it was made from: the writer
    leaves alone a file that changed after it was read."""

    data: bytes
    read_sha: str  # sha256 of the file's bytes as read


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
    error_kind: str = ""  # "read" | "parse" | "rewrite" | "write" | "timeout" | "internal"
    notes: tuple[str, ...] = field(default=())
    pending: PendingWrite | None = field(default=None, repr=False, compare=False)  # to write; None once written

    @property
    def changed(self) -> bool:
        return bool(self.diff)


_CONFIDENCE_RANK = {"low": 0, "medium": 1, "high": 2}


def _syntax_reason(exc: SyntaxError) -> str:
    where = f" (line {exc.lineno}, column {exc.offset})" if exc.lineno else ""
    return f"cannot parse: {exc.msg}{where}"


def _analyze(source: SourceFile, display: str, rules: Collection[str]) -> list[Finding]:
    with _off_budget():
        from inplace_fix.transforms.api import analyze

    collecting = gc.isenabled()
    gc.disable()  # the tree is millions of objects with no cycles: full collections would re-scan them all
    try:
        with warnings.catch_warnings():  # invalid escape sequences etc. are not our findings
            warnings.simplefilter("ignore")
            return analyze(source.text, display, select=rules)
    finally:
        if collecting:
            gc.enable()


def _compiles(text: str, display: str, flags: int = 0) -> str | None:
    """None when `text` compiles as a module, else the reason it does not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, display, "exec", flags=flags, dont_inherit=True)
    except SyntaxError as exc:
        return f"{exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _rewrite_compiles(outcome, display: str) -> str | None:
    """Does the rewritten file compile? Each changed top-level statement is compiled on its own
    (the rest is the original's, which compiled): a large file is not compiled whole, in time or
    memory (compiling 5 MB at once takes over half a gigabyte)."""
    statements = getattr(outcome, "statements", ())
    if not statements:
        return _compiles(outcome.source, display)
    for text in statements:
        problem = _compiles(text, display, getattr(outcome, "future_flags", 0))
        if problem is not None:
            return problem
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
    with _off_budget():
        import libcst  # noqa: F401  (its first import is not this file's work)
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
    fixed_ids = {id(f) for f in fixed}
    unfixed += [f for f in targets if id(f) not in fixed_ids]
    result["unfixed"] = tuple(sorted(unfixed))
    if outcome.source == source.text:
        result["unfixed"] = tuple(sorted(unfixed + fixed))
        return
    problem = _rewrite_compiles(outcome, display)
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
    result["diff"] = _diff(display, source, outcome)
    result["encoding"] = source.encoding
    result["_text"] = outcome.source  # a notebook's cells are written back from it (notebook_lint.finish)
    if options.write:
        result["_data"] = data  # hashed by lint_file once the time budget is off


def _diff(display: str, source: SourceFile, outcome) -> str:
    """The rewrite as a unified diff, its hunks the same as one diff of the whole file would give.

    difflib's matcher is quadratic in the lines of its input when many of them repeat (as in
    a large file of similar classes): above `REGION_DIFF_LINES` lines only the rewritten
    pieces, each with its context lines, are diffed, and the hunk headers are moved back to
    the file's line numbers.
    """
    bom = "\ufeff" if source.bom else ""
    edits = getattr(outcome, "edits", ())
    if not edits or source.text.count("\n") < REGION_DIFF_LINES:
        return unified_diff(display, bom + source.text, bom + outcome.source)
    old_lines = (bom + source.text).splitlines(keepends=True)
    new_lines = (bom + outcome.source).splitlines(keepends=True)
    if "\r" in source.text or len(old_lines) != source.text.count("\n") + (not source.text.endswith("\n")):
        return unified_diff(display, bom + source.text, bom + outcome.source)  # odd line breaks: no cutting
    out: list[str] = []
    for old_start, old_end, shift in _regions(edits, len(old_lines), DIFF_CONTEXT):
        part = unified_diff(display, "".join(old_lines[old_start:old_end]),
                            "".join(new_lines[old_start + shift[0]:old_end + shift[1]]), DIFF_CONTEXT)
        header, _, hunks = part.partition("\n@@ ")
        if not out:
            out.append(header + "\n")
        out.append(_HUNK.sub(lambda m: f"@@ -{int(m[1]) + old_start}{m[2]} +{int(m[3]) + old_start + shift[0]}{m[4]} @@",
                             "@@ " + hunks))
    return "".join(out)


REGION_DIFF_LINES = 2000
DIFF_CONTEXT = 3
_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", re.M)


def _regions(edits: Sequence[tuple[int, str, str]], total: int, context: int) -> list[tuple[int, int, tuple[int, int]]]:
    """Old-line ranges [start, end) (0-based) around the edits with `context` lines each side, merged
    where their hunks would touch, each with the line shift of the new text at its start and end."""
    regions: list[list] = []
    shift = 0
    for first, old, new in edits:
        start, old_count, new_count = first - 1, _line_count(old), _line_count(new)
        lo, hi = max(0, start - context), min(total, start + old_count + context)
        after = shift + new_count - old_count
        if regions and lo <= regions[-1][1]:
            regions[-1][1], regions[-1][3] = hi, after
        else:
            regions.append([lo, hi, shift, after])
        shift = after
    return [(lo, hi, (before, after)) for lo, hi, before, after in regions]


def _line_count(text: str) -> int:
    return text.count("\n") + (bool(text) and not text.endswith("\n"))


class FileTimeout(BaseException):
    """The file's time budget ran out. A BaseException, so that no `except Exception` of a
    rule or of libcst takes it for a failure of its own and carries on."""


@contextmanager
def _budget(seconds: float | None) -> Iterator[None]:
    """Raise FileTimeout in this thread after `seconds` of wall time (SIGALRM).

    Only where a process can have an alarm: on the main thread of a POSIX process (the
    in-process run and each pool worker); elsewhere the file has no budget.
    """
    import signal
    import threading

    if (not seconds or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise FileTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    collecting = gc.isenabled()
    # Then again every RETRY seconds: an exception raised while a finalizer or a garbage
    # collection callback runs is reported as unraisable and dropped, and the work goes on.
    signal.setitimer(signal.ITIMER_REAL, seconds, RETRY)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
            if collecting:
                gc.enable()  # the rewriter pauses the collector while it parses a piece


@contextmanager
def _off_budget() -> Iterator[None]:
    """Stop the file's clock while a module is imported for the first time in this process."""
    import signal
    import threading

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    if remaining:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        if remaining:
            signal.setitimer(signal.ITIMER_REAL, remaining, interval)


def _timeout_reason(seconds: float) -> str:
    return f"exceeded the time budget of {seconds:g} s per file (--file-timeout); file left alone"


def lint_file(path: Path, display: str, options: LintOptions) -> FileResult:
    """Analyze (and in fix mode rewrite) one file within `options.file_timeout`; never raises.

    A file over its budget is an error (kind "timeout") with no findings and is never written.
    """
    result: dict = {}
    try:
        try:
            with _budget(options.file_timeout):
                early = _lint(path, display, options, result)
        except FileTimeout:
            return FileResult(path, display, error=_timeout_reason(options.file_timeout or 0), error_kind="timeout")
        if early is not None:
            return early
        data = result.pop("_data", None)
        source = result.pop("_source", None)
        if data is not None and "error" not in result:
            result["pending"] = PendingWrite(data, hashlib.sha256(source.data).hexdigest())
        return FileResult(path, display, **result)
    except Exception as exc:  # a bug of ours must not stop a run over a thousand files
        return FileResult(path, display, error=f"internal error: {type(exc).__name__}: {exc}", error_kind="internal",
                          **{k: v for k, v in result.items() if k in ("findings", "suppressed")})
    finally:
        _forget_parse()


def _forget_parse() -> None:
    """The file's syntax tree is not needed past its result (see `context.forget_parse`)."""
    from inplace_fix.transforms.context import forget_parse

    forget_parse()


def _lint(path: Path, display: str, options: LintOptions, result: dict) -> FileResult | None:
    """Read, analyze and rewrite into `result`; a FileResult when the file is left alone early."""
    try:
        source = read_source(path)
    except SourceError as exc:
        return FileResult(path, display, error=exc.reason, error_kind="read")
    script = None
    if is_notebook(path):  # its code cells, as one script with a line map (notebook_lint)
        try:
            script, source, skipped = notebook_lint.script_source(source)
        except NotebookError as exc:
            return FileResult(path, display, error=exc.reason, error_kind="parse")
        if script is None:
            return FileResult(path, display, notes=(skipped,))
    try:
        found = _analyze(source, display, options.rules)
    except SyntaxError as exc:
        reason = _syntax_reason(exc) if script is None else notebook_lint.syntax_reason(exc, script, display)
        return FileResult(path, display, error=reason, error_kind="parse")
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return FileResult(path, display, error=f"cannot parse: {type(exc).__name__}: {exc}", error_kind="parse")
    found = [f for f in found if _CONFIDENCE_RANK[f.confidence.value] >= _CONFIDENCE_RANK[options.min_confidence]]
    suppressions = parse_suppressions(source.text) if found else {}
    findings = [f for f in found if not is_suppressed(f, suppressions)]
    result.update(findings=tuple(findings), suppressed=len(found) - len(findings))
    if options.fix and findings:
        result["_source"] = source
        _rewrite(source, display, findings, options, result)
    new_text = result.pop("_text", None)
    if script is not None:
        notebook_lint.finish(script, display, source, result, new_text)
    return None
