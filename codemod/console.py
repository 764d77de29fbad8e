"""Terminal output shared by every command: color only on a terminal, never with NO_COLOR."""

from __future__ import annotations

import os
import sys
from typing import IO

import click


def color_enabled(stream: IO[str] | None = None) -> bool:
    """Color when writing to a terminal, unless NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR", "") != "":
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Console:
    """Writes to one stream and decides once whether it may use color."""

    def __init__(self, stream: IO[str] | None = None, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.color = color_enabled(self.stream) if color is None else color

    def style(self, text: str, **styles: object) -> str:
        """click.style when color is on; the plain text otherwise."""
        return click.style(text, **styles) if self.color else text  # type: ignore[arg-type]

    def print(self, text: str = "", **styles: object) -> None:
        self.stream.write(self.style(text, **styles) + "\n")
        self.stream.flush()


def stderr_console() -> Console:
    return Console(sys.stderr)
