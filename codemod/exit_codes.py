"""The exit codes every command shares (DESIGN.md)."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # nothing to fix, or every fix applied and verified
    FOUND = 1  # a problem was found and is not fixed
    USAGE = 2  # usage or input error: missing file, file that does not parse, bad option
    SCRIPT_FAILED = 3  # the script failed for another reason, or timed out
