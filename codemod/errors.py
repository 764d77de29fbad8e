"""The one error the API raises for input a user must correct (exit 2 on the command line)."""


class InputError(Exception):
    """Bad input: a missing file, a syntax error, a bad option, config or interpreter.

    The message is one line that says what to correct; nothing was run or written.
    """
