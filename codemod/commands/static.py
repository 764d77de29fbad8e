"""`inplace-fix scan` (static lint) and `inplace-fix migrate` (static bulk rewrite).

Neither runs, imports nor executes the code it reads, and neither imports torch.
Exit codes (DESIGN.md): 0 nothing found / everything fixed; 1 findings left
(scan: any finding; migrate: changes pending in a dry run, unsafe fixes skipped,
findings with no automatic fix); 2 input errors (bad option or config, a path
that does not exist, a file that cannot be read, decoded, parsed or rewritten),
which take precedence: every other file is still processed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from codemod.console import Console
from codemod.exit_codes import ExitCode
from codemod.signals import terminate_like_ctrl_c

FORMATS = ("text", "json", "github", "sarif")
PROGRESS_MIN_FILES = 100  # a bar for fewer files only flickers


CONFIDENCE_LEVELS = ("low", "medium", "high")


def _codes_option(name: str, help_text: str) -> Callable:
    def validate(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
        from codemod.config import ConfigError, parse_codes
        from codemod.workset import known_codes

        try:
            return parse_codes(values, known_codes(), f"--{name}")
        except ConfigError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], ctx=ctx, param=param) from None

    return click.option(f"--{name}", multiple=True, metavar="CODES", callback=validate, help=help_text)


def _common(func: Callable) -> Callable:
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


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, only on a terminal and only for long runs."""
    if total < PROGRESS_MIN_FILES or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _workset(paths: Sequence[str], select: Sequence[str], ignore: Sequence[str], **options: object):
    from codemod.config import ConfigError
    from codemod.workset import build_workset

    try:
        return build_workset(paths, select or None, ignore, **options)
    except ConfigError as exc:
        Console(sys.stderr).print(f"Error: {exc}")
        _exit(ExitCode.USAGE)


def _run(workset, jobs: int | None, label: str):
    from codemod.bulk import run_many
    from codemod.render.findings import Problem

    with terminate_like_ctrl_c(), _progress(len(workset.jobs), label) as on_done:
        results = run_many(workset.jobs, jobs=jobs, on_done=on_done)
    problems = list(workset.problems)
    problems += [Problem(r.display, r.error) for r in results if r.error]
    return results, problems


@click.command("scan")
@_common
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: path:line:col: CODE message; json; github: workflow annotations; sarif: SARIF 2.1.0.")
def scan_command(paths: tuple[str, ...], select: tuple[str, ...], ignore: tuple[str, ...], jobs: int | None,
                 min_confidence: str, fmt: str) -> None:
    """Report every in-place operation that can break autograd. Runs no code.

    \b
    Exit codes: 0 no findings, 1 findings, 2 input error (bad option or config,
    missing path, a file that cannot be read or parsed; the others are still scanned).
    """
    from codemod.render import findings as render
    from codemod.render.summary import problem_lines, scan_summary

    workset = _workset(paths, select, ignore, min_confidence=min_confidence)
    results, problems = _run(workset, jobs, "scan")
    findings = [f for r in results for f in r.findings]
    suppressed = sum(r.suppressed for r in results)
    out, err = Console(sys.stdout), Console(sys.stderr)
    if fmt == "text":
        sys.stdout.write(render.render_text(findings, out))
    elif fmt == "json":
        sys.stdout.write(render.render_json(findings, problems, len(results)))
    elif fmt == "github":
        sys.stdout.write(render.render_github(findings, problems))
    else:
        from transforms.registry import ALL_RULES

        sys.stdout.write(render.render_sarif(findings, problems, ALL_RULES, Path.cwd()))
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
                    min_confidence: str, apply: bool, unsafe_fixes: bool) -> None:
    """Rewrite in-place operations out of place across whole repositories.

    Dry run by default: prints a unified diff (applies with `git apply`) and a
    summary; --apply writes (atomically, keeping encoding, line endings and mode).

    \b
    Exit codes: 0 nothing to fix, or every finding fixed (--apply);
                1 changes pending (dry run), or findings left unfixed
                  (unsafe fixes skipped, no automatic fix);
                2 input error (bad option or config, missing path, a file that
                  cannot be read, parsed or rewritten; the others are still processed).
    """
    from codemod.render.diff import colorize
    from codemod.render.summary import by_rule, migrate_summary, problem_lines

    workset = _workset(paths, select, ignore, fix=True, unsafe=unsafe_fixes, write=apply,
                       min_confidence=min_confidence)
    results, problems = _run(workset, jobs, "migrate")
    out, err = Console(sys.stdout), Console(sys.stderr)
    for result in results:
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
    pending = any(r.unsafe_skipped or r.unfixed or (r.changed and not apply) for r in results)
    _exit(ExitCode.USAGE if problems else ExitCode.FOUND if pending else ExitCode.OK)
