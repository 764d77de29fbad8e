"""The exit codes every command shares, and the one mapping from a report status to them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # nothing to fix, or every fix applied and verified
    FOUND = 1  # a problem was found and is not fixed
    USAGE = 2  # usage or input error: missing file, file that does not parse, bad option
    SCRIPT_FAILED = 3  # the script failed for another reason, or timed out


def exit_code_for(status: str) -> ExitCode:
    """A diagnose or --apply report's status as an exit code."""
    if status in ("clean", "fixed"):
        return ExitCode.OK
    if status in ("script-error", "timeout"):
        return ExitCode.SCRIPT_FAILED
    return ExitCode.FOUND
