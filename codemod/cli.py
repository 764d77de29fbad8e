"""The command line: a thin click layer over `inplace_fix.api`.

`inplace-fix SCRIPT` (no sub-command) diagnoses a script; `run -m MODULE` does the
same for a module; `scan` and `migrate` are the static commands. Every command
returns one of the exit codes of `inplace_fix.exit_codes` and never shows a
traceback of its own.
"""

from __future__ import annotations

import sys

import click

from inplace_fix import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class DefaultToFixGroup(click.Group):
    """A group whose first argument may be a script instead of a sub-command.

    `inplace-fix train.py` reads as `inplace-fix fix train.py`; a file that happens
    to be called `scan` can still be diagnosed as `inplace-fix fix scan`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help", "--version"):
            args = ["fix", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """Ctrl-C exits 130, as shells do, so CI can tell an interrupt from a finding (1)."""
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.Abort):
            click.echo("inplace-fix: interrupted", err=True)
            ctx.exit(130)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("inplace-fix", "SCRIPT [OPTIONS] [-- SCRIPT_ARGS...]\n"
                              "       inplace-fix COMMAND [ARGS]...")


@click.group(cls=DefaultToFixGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="inplace-fix")
def main() -> None:
    """Find and fix the in-place operations that break PyTorch autograd.

    \b
    inplace-fix train.py                 diagnose: name the line that modified the
                                         tensor and the line that saved it; show the fix
    inplace-fix train.py --apply         rewrite, re-run, verify; roll back if not verified
    inplace-fix train.py -- --epochs 1   arguments after -- go to the script
    inplace-fix run -m pkg.train         a module, like `python -m`
    inplace-fix scan models/             static lint of every in-place site; runs no code
    inplace-fix migrate repo/ [--apply]  static bulk rewrite: diff first, --apply writes
    inplace-fix restore                  undo what an --apply that was killed left behind
    inplace-fix rule IPF004              what a rule finds, why it breaks autograd, its fix

    \b
    Exit codes: 0 nothing to fix, or every fix applied and verified
                1 a problem was found and is not fixed
                2 usage or input error (missing file, file that does not parse, bad option)
                3 the script failed for another reason, or timed out
    """
    # A path or a line of source the terminal's encoding cannot show (an ASCII or
    # cp1252 console) is escaped, not a UnicodeEncodeError traceback mid-report.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream already written to in a way that forbids it
                pass


# Each command lives in inplace_fix/commands/, one module per family of commands.
from inplace_fix.commands.fix import fix_command, run_command  # noqa: E402
from inplace_fix.commands.recovery import restore_command  # noqa: E402
from inplace_fix.commands.rules import rule_command  # noqa: E402
from inplace_fix.commands.static import migrate_command, scan_command  # noqa: E402

main.add_command(fix_command)
main.add_command(run_command)
main.add_command(scan_command)
main.add_command(migrate_command)
main.add_command(restore_command)
main.add_command(rule_command)
