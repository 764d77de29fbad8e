"""Terminal output shared by every command: color only on a terminal, never with NO_COLOR."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

# The terminal's eight colors, as every terminal numbers them (foreground codes 30-37).
_COLORS = {name: 30 + index for index, name in enumerate(
    ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"))}


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

    def style(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        """ANSI color and weight when color is on; the plain text otherwise."""
        if not self.color or not (fg or bold):
            return text
        codes = (f"\x1b[{_COLORS[fg]}m" if fg else "") + ("\x1b[1m" if bold else "")
        return f"{codes}{text}\x1b[0m"

    def print(self, text: str = "", **styles: Any) -> None:
        self.stream.write(self.style(text, **styles) + "\n")
        self.stream.flush()

