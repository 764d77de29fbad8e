"""`inplace-fix SCRIPT` (the `fix` command) and `inplace-fix run -m MODULE`.

A thin layer over `inplace_fix.api`: parse options, call `diagnose` or `fix`, print
the diagnosis, the outcome or the JSON report, and return the exit code. Bad input
is one line on stderr, exit 2, nothing run. With --json standard output holds the
report only; the script's own output goes to standard error.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from inplace_fix.console import Console
from inplace_fix.exit_codes import ExitCode, exit_code_for

if TYPE_CHECKING:
    from inplace_fix.api import Diagnosis, Outcome

__all__ = ["fix_command", "run_command"]

EXIT_CODES_HELP = """\b
Exit codes:
  0  no in-place problem found (or, with --apply, every fix applied and verified)
  1  a problem was found and is not fixed
  2  usage or input error: missing file, syntax error, bad option or interpreter
  3  the script failed for another reason (its traceback is shown) or timed out"""


class InputFailure(click.ClickException):
    """A one-line input error: `inplace-fix: error: ...` on stderr, exit 2, no usage dump."""

    exit_code = int(ExitCode.USAGE)

    def show(self, file: Any = None) -> None:
        click.echo(f"inplace-fix: error: {self.format_message()}", err=True)


class OneLineErrors(click.Command):
    """Turns click's usage errors (unknown option, bad value) into one line, exit 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            hint = f" (see `inplace-fix {'run ' if self.name == 'run' else ''}--help`)"
            message = exc.format_message().rstrip(".")
            if isinstance(exc, click.NoSuchOption):
                maybe = sorted(exc.possibilities or ())
                message = f"no such option: {exc.option_name}" + (f" (did you mean {', '.join(maybe)}?)"
                                                                    if maybe else "")
                hint = f"; arguments for the script go after `--`{hint}"
            raise InputFailure(message + hint) from None


def _finite_timeout(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """FloatRange lets `nan` through (every comparison with it is false): it meant no timeout at all."""
    if value != value:
        raise click.BadParameter(f"{value} is not a number of seconds", ctx=ctx, param=param)
    return value


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options `fix` and `run` share."""
    decorators = [
        click.option("--json", "json_output", is_flag=True,
                     help="Print the JSON report on stdout (the script's output goes to stderr)."),
        click.option("--steps", type=click.IntRange(min=1), default=3, show_default=True, metavar="N",
                     help="Stop the script cleanly after N successful backward calls."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=600.0,
                     show_default=True, metavar="S", callback=_finite_timeout,
                     help="Stop the script and every process it started after S seconds (exit 3)."),
        click.option("--python", "python", default=None, show_default="this one if it has torch, else `python` on PATH",
                     metavar="PY", help="The interpreter that runs the script (it needs torch)."),
        click.option("--root", type=click.Path(exists=True, file_okay=False), default=None, metavar="DIR",
                     help="Project root: frames under it are yours, the rest is library code "
                          "[default: the git top-level above the script, else its folder]."),
        click.option("--anomaly", is_flag=True,
                     help="Also run torch's anomaly detection as a cross-check (slower)."),
        click.option("--apply", "apply_fix", is_flag=True,
                     help="Rewrite the located sites, re-run, verify loss and gradients; roll back "
                          "if not verified."),
        click.option("--max-rounds", type=click.IntRange(min=1), default=5, show_default=True, metavar="N",
                     help="With --apply: fix, re-run and fix again at most N times."),
        click.option("--max-candidates", type=click.IntRange(min=1), default=3, show_default=True, metavar="N",
                     help="With --apply: verify at most N candidate fixes per problem, in order, and keep "
                          "the first that verifies."),
        click.option("--unsafe-fixes", is_flag=True,
                     help="With --apply: also use rewrites that can change behaviour through aliasing."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _execute(**options: Any) -> int:
    from inplace_fix.signals import terminate_like_ctrl_c

    with terminate_like_ctrl_c():
        return _execute_inner(**options)


def _execute_inner(*, script: str | None, module: str | None, script_args: tuple[str, ...], json_output: bool,
                   steps: int, timeout: float, python: str | None, root: str | None, anomaly: bool, apply_fix: bool,
                   max_rounds: int, max_candidates: int, unsafe_fixes: bool) -> int:
    """Every dynamic fix is verified by re-running, so `unsafe_fixes` changes nothing with --apply:
    an aliasing rewrite that changes behaviour fails the gradient comparison and is undone."""
    from inplace_fix import api

    target = api.Target(script=script, module=module, args=tuple(script_args))
    try:
        if apply_fix:
            outcome = api.fix(target, api.FixOptions(steps=steps, timeout=timeout, python=python, root=root,
                                                     anomaly=anomaly, max_rounds=max_rounds,
                                                     max_candidates=max_candidates),
                              echo=sys.stderr if json_output else sys.stdout)  # the script's output, as it runs
            return _show_outcome(outcome, json_output)
        _recover_unfinished(target, root)
        # With --json the script's stdout goes to our stderr: stdout is the report's.
        diagnosis = api.diagnose(target, api.RunOptions(steps=steps, timeout=timeout, python=python, root=root,
                                                        anomaly=anomaly),
                                 stdout=sys.stderr if json_output else sys.stdout, stderr=sys.stderr)
    except api.InputError as exc:
        raise InputFailure(str(exc)) from None
    return _show_diagnosis(diagnosis, json_output, _typed_options())


def _recover_unfinished(target: Any, root: str | None) -> None:
    """A dry run first undoes what a killed --apply left (unless a run is live in the project),
    so it diagnoses the user's code, not an unverified edit."""
    from inplace_fix import api
    from inplace_fix.render.recovery import recovery_lines

    try:
        recovered = api.restore(api.project_root(target, root))
    except api.InputError:  # another run holds the project: its journal is not ours to undo
        return
    except (OSError, RuntimeError):  # a path that cannot be resolved (a symlink loop): the request check says so
        return
    _say(recovery_lines(recovered))


def _say(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)


# The options a dry run's suggested `--apply` command repeats (not --json, not --apply itself).
_REPEATED_OPTIONS = ("steps", "timeout", "python", "root", "anomaly", "max_rounds", "max_candidates", "unsafe_fixes")


def _typed_options() -> list[str] | None:
    """The options the user gave (on the command line or in the environment), in --help's order;
    None outside a click command (the renderer then takes the request's non-default ones)."""
    from click.core import ParameterSource

    from inplace_fix.render.diagnosis import format_seconds

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    out: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name not in _REPEATED_OPTIONS:
            continue
        if ctx.get_parameter_source(param.name) not in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        value = ctx.params.get(param.name)
        flag = max(param.opts, key=len)
        if param.is_flag:
            out += [flag] if value else []
        else:
            out += [flag, format_seconds(value) if isinstance(value, float) else str(value)]
    return out


def _show_diagnosis(diagnosis: "Diagnosis", json_output: bool, apply_options: list[str] | None = None) -> int:
    from inplace_fix.render.diagnosis import render_diagnosis
    from inplace_fix.report import dumps

    if diagnosis.status == "script-error":
        _show_script_failure(diagnosis.script_error)
    if json_output:
        click.echo(dumps(diagnosis.to_json()))
    else:
        failed = diagnosis.status in ("script-error", "timeout") and not diagnosis.problems
        stream = sys.stderr if failed else sys.stdout
        sys.stdout.flush()
        stream.write(render_diagnosis(diagnosis, Console(stream), apply_options))
        stream.flush()
    if diagnosis.status in ("script-error", "timeout") and json_output:
        if diagnosis.problems or diagnosis.status == "timeout":
            line = f"{diagnosis.request.target}: " + (diagnosis.message or "the script failed for another reason")
        else:  # the same line as without --json: the error's type, and no traceback promised that is not there
            line = render_diagnosis(diagnosis, Console(sys.stderr, color=False)).strip()
        click.echo(f"inplace-fix: {line}", err=True)
    return int(exit_code_for(diagnosis.status))


def _show_outcome(outcome: "Outcome", json_output: bool) -> int:
    """--apply: the outcome as text or JSON (the diagnosis run's output was streamed as it ran)."""
    from inplace_fix.render.outcome import render_outcome
    from inplace_fix.report import dumps

    from inplace_fix.render.recovery import recovery_lines

    _say(recovery_lines(outcome.recovered))
    # The script's own output (from the diagnosis run) was shown as it ran (`echo` in _execute_inner).
    if json_output:
        sys.stdout.write(dumps(outcome.to_json()) + "\n")
        sys.stdout.flush()
        if outcome.status in ("script-error", "timeout"):
            sys.stderr.write(f"inplace-fix: {outcome.script}: {outcome.why}\n")
    else:
        stream = sys.stderr if outcome.status in ("script-error", "timeout") else sys.stdout
        stream.write(render_outcome(outcome, Console(stream)))
        stream.flush()
    return int(outcome.exit_code)


def _show_script_failure(error: Any) -> None:
    """The script's own traceback, untouched, on stderr, as `python SCRIPT` would print it."""
    if not error:
        return
    text = _strip_runner_frames(error.get("traceback") or "")
    if not text and error.get("type") == "SystemExit":
        message = str(error.get("message") or "")
        text = "" if message.lstrip("-").isdigit() or message == "None" else message + "\n"
    if text:
        sys.stdout.flush()
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()


_RUNNER_FRAME = re.compile(r'  File "(<frozen runpy>|[^"]*[/\\\\]runpy\.py)", line \d+, in \w+\n(    .*\n)?')


def _strip_runner_frames(text: str) -> str:
    """Drop runpy's frames from the top of the traceback: `python SCRIPT` does not show them."""
    head = "Traceback (most recent call last):\n"
    if not text.startswith(head):
        return text
    body = text[len(head):]
    while (match := _RUNNER_FRAME.match(body)) is not None:
        body = body[match.end():]
    return head + body


FIX_HELP = f"""Run SCRIPT, find the in-place operation that breaks backward, and show the fix.

Names both lines torch leaves out: the one that saved the tensor for backward and
the one that modified it in place. The script runs in a subprocess of your
interpreter (or --python) from the current directory, with the arguments after
`--`, and stops cleanly after --steps backward calls or at the first problem.
Nothing is written unless --apply is given.

\b
Examples:
  inplace-fix train.py                   diagnose; print both lines and the proposed diff
  inplace-fix train.py -- --epochs 1     arguments after -- go to the script
  inplace-fix train.py --json | jq       the machine-readable report
  inplace-fix train.py --apply           rewrite, re-run, verify; roll back if not verified
  inplace-fix run -m pkg.train           a module, like `python -m pkg.train`

{EXIT_CODES_HELP}
"""


@click.command("fix", cls=OneLineErrors, help=FIX_HELP,
               context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("script", type=click.Path(path_type=str))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
@_options
def fix_command(script: str, script_args: tuple[str, ...], **options: Any) -> None:
    sys.exit(_execute(script=script, module=None, script_args=script_args, **options))


RUN_HELP = f"""Diagnose a module the way `python -m MODULE` runs it.

Same as `inplace-fix SCRIPT`, for code started with `python -m` (sys.path[0] is the
current directory, __name__ is "__main__").

\b
Examples:
  inplace-fix run -m pkg.train
  inplace-fix run -m pkg.train --json -- --epochs 1

{EXIT_CODES_HELP}
"""


@click.command("run", cls=OneLineErrors, help=RUN_HELP,
               context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-m", "module", required=True, metavar="MODULE", help="The module to run, as with `python -m`.")
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
@_options
def run_command(module: str, script_args: tuple[str, ...], **options: Any) -> None:
    sys.exit(_execute(script=None, module=module, script_args=script_args, **options))
