"""`inplace-fix scan` (static lint) and `inplace-fix migrate` (static bulk rewrite).

Neither runs, imports nor executes the code it reads, and neither imports torch.
Exit codes: 0 nothing found / everything fixed; 1 findings left
(scan: any finding; migrate: changes pending in a dry run, unsafe fixes skipped,
findings with no automatic fix); 2 input errors (bad option or config, a path
that does not exist, a file that cannot be read, decoded, parsed or rewritten or
that exceeds its --file-timeout),
which take precedence: every other file is still processed. `migrate --apply` also
exits 2, having written nothing, when another run holds the project (`ProjectLock`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from inplace_fix.console import Console
from inplace_fix.exit_codes import ExitCode
from inplace_fix.signals import terminate_like_ctrl_c

FORMATS = ("text", "json", "github", "sarif")
PROGRESS_MIN_FILES = 100  # a bar for fewer files only flickers


CONFIDENCE_LEVELS = ("low", "medium", "high")


def _codes_option(name: str, help_text: str) -> Callable:
    def validate(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
        from inplace_fix.config import ConfigError, parse_codes
        from inplace_fix.workset import known_codes

        try:
            return parse_codes(values, known_codes(), f"--{name}")
        except ConfigError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], ctx=ctx, param=param) from None

    return click.option(f"--{name}", multiple=True, metavar="CODES", callback=validate, help=help_text)


def _common(func: Callable) -> Callable:
    func = click.option("--statistics", is_flag=True,
                        help="Print how many findings each rule has instead of the findings (or the diff).")(func)
    func = click.option("--stdin-filename", metavar="NAME", default=None,
                        help="With `-` as the path: the file name the source on stdin stands for (its config, "
                             "the path shown, --force-exclude).")(func)
    func = click.option("--force-exclude", is_flag=True,
                        help="Skip files the config excludes even when named on the command line "
                             "(as pre-commit names them).")(func)
    func = click.option("--file-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
                        metavar="SECONDS",
                        help="Time budget per file; a file over it is reported as an error (exit 2) and left "
                             "alone, the others go on (0 = no limit).")(func)
    func = click.option("--jobs", "-j", type=click.IntRange(min=0), default=None, metavar="N",
                        help="Worker processes (default: all cores; 0 = all cores).")(func)
    func = click.option("--min-confidence", type=click.Choice(CONFIDENCE_LEVELS), default="medium",
                        show_default=True,
                        help="Only findings at least this sure that the operand is a tensor autograd tracks "
                             "(low adds sites of unknown type, mostly data-pipeline code).")(func)
    func = _codes_option("ignore", "Rule codes to skip (comma-separated or repeated).")(func)
    func = _codes_option("select", "Only these rule codes (comma-separated or repeated; ALL = every rule, "
                                   "including opt-in IPF005).")(func)
    func = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))(func)
    return func


def _exit(code: int) -> None:
    click.get_current_context().exit(int(code))


def _usage_error(message: str) -> None:
    """One line on stderr, exit 2."""
    Console(sys.stderr).print(f"Error: {message}")
    _exit(ExitCode.USAGE)


def _stdin_wanted(paths: Sequence[str], stdin_filename: str | None) -> bool:
    """Whether the source comes from stdin (`-`); a bad mix of paths is a usage error."""
    if "-" not in paths:
        if stdin_filename is not None:
            _usage_error("--stdin-filename needs `-` as the path (the source is read from stdin)")
        return False
    if len(paths) > 1:
        _usage_error("`-` (stdin) cannot be combined with other paths")
    return True


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read() if stream is not None else sys.stdin.read().encode("utf-8")


def _write_bytes(data: bytes) -> None:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8", "surrogateescape"))
    else:
        buffer.write(data)
        buffer.flush()


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, only on a terminal and only for long runs (fed by the API's callback)."""
    bar: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bar:
            if total < PROGRESS_MIN_FILES or not sys.stderr.isatty():
                bar.append(None)
            else:
                bar.append(click.progressbar(length=total, label=label, file=sys.stderr).__enter__())
        if bar[0] is not None:
            bar[0].update(done - bar[0].pos)

    try:
        yield update
    finally:
        if bar and bar[0] is not None:
            bar[0].__exit__(None, None, None)


def _run(call: Callable[..., Any], paths: Sequence[str], options: Any, label: str, **kw: Any) -> Any:
    """The API call under Ctrl-C/SIGTERM handling and a progress bar; a config error is exit 2."""
    from inplace_fix import api

    try:
        with terminate_like_ctrl_c(), _progress(label) as progress:
            return call(list(paths), options, progress=progress, **kw)
    except api.InputError as exc:
        Console(sys.stderr).print(f"Error: {exc}")
        _exit(ExitCode.USAGE)


@click.command("scan")
@_common
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: path:line:col: CODE message; json; github: workflow annotations; sarif: SARIF 2.1.0.")
def scan_command(paths: tuple[str, ...], select: tuple[str, ...], ignore: tuple[str, ...], jobs: int | None,
                 min_confidence: str, file_timeout: float, force_exclude: bool, stdin_filename: str | None,
                 statistics: bool, fmt: str) -> None:
    """Report every in-place operation that can break autograd. Runs no code.

    \b
    `scan -` reads one source from stdin (--stdin-filename names it).

    \b
    Exit codes: 0 no findings, 1 findings, 2 input error (bad option or config,
    missing path, a file that cannot be read or parsed or exceeds --file-timeout;
    the others are still scanned).
    """
    from inplace_fix import api
    from inplace_fix.render import findings as render
    from inplace_fix.render.summary import problem_lines, scan_summary

    if statistics and fmt not in ("text", "json"):
        _usage_error("--statistics prints text or JSON: use --format text or --format json")
    options = api.StaticOptions(select=select, ignore=ignore, min_confidence=min_confidence, jobs=jobs,
                                file_timeout=file_timeout or None, force_exclude=force_exclude)
    stdin_data: bytes | None = None
    if _stdin_wanted(paths, stdin_filename):
        stdin_data = _read_stdin()
        result = _run(lambda _paths, opts, progress: api.scan_source(stdin_data, stdin_filename, opts),
                      paths, options, "scan")
    else:
        result = _run(api.scan, paths, options, "scan")
    results, problems, findings, suppressed = result.files, result.errors, list(result.findings), result.suppressed
    out, err = Console(sys.stdout), Console(sys.stderr)
    if statistics:
        from inplace_fix.render.statistics import render_statistics

        sys.stdout.write(render_statistics(findings, fmt))
    elif fmt == "text":
        sys.stdout.write(render.render_text(findings, out))
    elif fmt == "json":
        sys.stdout.write(render.render_json(findings, problems, len(results)))
    elif fmt == "github":
        sys.stdout.write(render.render_github(findings, problems))
    else:
        from inplace_fix.render.sarif_fixes import safe_fixes
        from inplace_fix.transforms.registry import ALL_RULES

        sources = None if stdin_data is None else {r.display: stdin_data for r in results}
        sys.stdout.write(render.render_sarif(findings, problems, ALL_RULES, Path.cwd(),
                                             fixes=safe_fixes(results, sources)))
    sys.stdout.flush()
    if fmt != "github":
        for line in problem_lines(problems, err):
            err.print(line)
    if fmt == "text":
        err.print(scan_summary(findings, len(results), suppressed, len(problems)))
    _exit(ExitCode.USAGE if problems else ExitCode.FOUND if findings else ExitCode.OK)


@click.command("migrate")
@_common
@click.option("--apply", is_flag=True, help="Write the changes (default: dry run, print the diff).")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply fixes that can change behaviour when another name aliases the tensor.")
def migrate_command(paths: tuple[str, ...], select: tuple[str, ...], ignore: tuple[str, ...], jobs: int | None,
                    min_confidence: str, file_timeout: float, force_exclude: bool, stdin_filename: str | None,
                    statistics: bool, apply: bool, unsafe_fixes: bool) -> None:
    """Rewrite in-place operations out of place across whole repositories.

    Dry run by default: prints a unified diff (applies with `git apply`) and a
    summary; --apply writes (atomically, keeping encoding, line endings and mode).
    Like `inplace-fix SCRIPT --apply`, --apply is one run per project at a time, first
    puts back what a killed run left, and writes under the project's journal: if it is
    killed, the next run (or `inplace-fix restore`) puts the original files back.
    `migrate -` reads one source from stdin and prints it rewritten (--stdin-filename names it).

    \b
    Exit codes: 0 nothing to fix, or every finding fixed (--apply);
                1 changes pending (dry run), or findings left unfixed
                  (unsafe fixes skipped, no automatic fix);
                2 input error (bad option or config, missing path, a file that
                  cannot be read, parsed or rewritten, or exceeds --file-timeout;
                  the others are still processed), or, with --apply, another
                  inplace-fix run holds the project (nothing was written).
    """
    from inplace_fix import api
    from inplace_fix.render.diff import colorize
    from inplace_fix.render.recovery import recovery_lines
    from inplace_fix.render.summary import by_rule, migrate_summary, problem_lines

    options = api.StaticOptions(select=select, ignore=ignore, min_confidence=min_confidence, jobs=jobs,
                                unsafe_fixes=unsafe_fixes, file_timeout=file_timeout or None,
                                force_exclude=force_exclude)
    if _stdin_wanted(paths, stdin_filename):
        if apply:
            _usage_error("`migrate -` prints the rewritten source to stdout; --apply has no file to write")
        _migrate_stdin(options, stdin_filename, statistics)
        return
    migration = _run(api.migrate, paths, options, "migrate", apply=apply)
    results, problems = migration.files, migration.errors
    out, err = Console(sys.stdout), Console(sys.stderr)
    for line in recovery_lines(migration.recovered):  # done before any file was read
        err.print(line)
    if statistics:
        from inplace_fix.render.statistics import render_migrate_statistics

        sys.stdout.write(render_migrate_statistics(results, apply))
        results_shown: Sequence[Any] = ()
    else:
        results_shown = results
    for result in results_shown:
        if not result.changed:
            continue
        if apply and result.written:
            out.print(f"rewrote {result.display} ({by_rule(result.fixed)})")
        elif not apply:
            # In the file's own encoding (a latin-1 file's diff holds latin-1 bytes), so that
            # `git apply` takes it; also never a UnicodeEncodeError on an ASCII-only stdout.
            text = colorize(result.diff, out)
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:
                sys.stdout.write(text)
                continue
            sys.stdout.flush()
            buffer.write(text.encode(result.encoding, "surrogateescape"))
            buffer.flush()
    sys.stdout.flush()
    for line in problem_lines(problems, err):
        err.print(line)
    err.stream.write(migrate_summary(results, len(problems), apply))
    err.stream.flush()
    _exit(ExitCode.USAGE if problems else ExitCode.FOUND if migration.pending else ExitCode.OK)


def _migrate_stdin(options: Any, name: str | None, statistics: bool) -> None:
    """`migrate -`: the rewritten source on stdout (unchanged when nothing applies), the summary on stderr."""
    from inplace_fix import api
    from inplace_fix.render.summary import migrate_summary, problem_lines

    migration = _run(lambda _paths, opts, progress: api.migrate_source(_read_stdin(), name, opts), ["-"],
                     options, "migrate")
    _write_bytes(migration.output)
    import dataclasses

    files = tuple(dataclasses.replace(r, written=r.changed) for r in migration.files)  # "written" to stdout
    err = Console(sys.stderr)
    for line in problem_lines(migration.errors, err):
        err.print(line)
    if statistics:
        from inplace_fix.render.statistics import render_migrate_statistics

        err.stream.write(render_migrate_statistics(files, True))
    err.stream.write(migrate_summary(files, len(migration.errors), True))
    err.stream.flush()
    left = any(r.unsafe_skipped or r.unfixed for r in migration.files)
    _exit(ExitCode.USAGE if migration.errors else ExitCode.FOUND if left else ExitCode.OK)
