"""`inplace-fix restore [PATH]`: undo what an `--apply` that was killed left behind.

Every later run does this by itself; the command is for a user who wants it now
(before a commit, in a CI cleanup step) or wants to see that nothing is pending.
"""

from __future__ import annotations

import click

from inplace_fix.exit_codes import ExitCode

__all__ = ["restore_command"]


@click.command("restore", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", required=False, default=".", type=click.Path())
def restore_command(path: str) -> None:
    """Put back the files of a run that did not finish (killed during --apply).

    PATH is any file or folder of the project (default: the current folder); its
    project root is the git top-level above it, else the folder itself. An unverified
    edit goes back to the original bytes; a verified fix that was completely written
    stays. Exits 0, or 2 when another inplace-fix run holds the project.

    \b
    Examples:
      inplace-fix restore            the project of the current folder
      inplace-fix restore train.py   the project train.py belongs to
    """
    from inplace_fix import api
    from inplace_fix.commands.fix import InputFailure
    from inplace_fix.render.recovery import recovery_lines

    try:
        recovered = api.restore(path, wait=2.0)
    except api.InputError as exc:
        raise InputFailure(str(exc)) from None
    lines = recovery_lines(recovered)
    for line in lines:
        click.echo(line, err=True)
    if not lines:
        click.echo("inplace-fix: nothing to restore: no run left unfinished edits", err=True)
    raise SystemExit(int(ExitCode.OK))
