"""One runtime run for the fixer: `inplace_fix.launcher.run_runtime` plus the verifier's flags.

The launcher owns the subprocess and every follow-up run (the user's interpreter, its
own session, the --timeout budget that stops the whole process tree); here we only
add --record/--compare/--clone-on-write/--fd-check and handle the script's output:
passed on as it comes when echoed, and only its last `TAIL_CHARS` kept (a script may
print gigabytes; `RunResult.output` is for the end of a failure, not a full log).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from inplace_fix.launcher import RunResult, run_runtime
from inplace_fix.request import Request

__all__ = ["RunResult", "OutputTail", "TAIL_CHARS", "flags", "run"]

TAIL_CHARS = 64 * 1024  # how much of the script's output `RunResult.output` keeps


class OutputTail:
    """A text sink for both of the script's streams: each write goes on to `echo` (if any) at once,
    and only about the last `limit` characters stay in memory (cut at a line start when it can)."""

    def __init__(self, echo: IO[str] | None = None, limit: int = TAIL_CHARS) -> None:
        self._echo, self._limit = echo, limit
        self._chunks: deque[str] = deque()
        self._size = 0
        self._dropped = False
        self._lock = threading.Lock()  # the stdout and stderr pumps write from two threads

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            if self._echo is not None:
                try:
                    self._echo.write(text)
                    self._echo.flush()
                except (OSError, ValueError, UnicodeError):  # a closed or narrow stream: keep the tail
                    self._echo = None
            self._chunks.append(text)
            self._size += len(text)
            while self._size - len(self._chunks[0]) >= self._limit:
                self._size -= len(self._chunks.popleft())
                self._dropped = True
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        with self._lock:
            text = "".join(self._chunks)
            dropped = self._dropped
        if len(text) <= self._limit and not dropped:
            return text
        text = text[-self._limit:]
        start = text.find("\n")
        return text[start + 1:] if 0 <= start < len(text) - 1 else text


def flags(*, record: Path | None = None, compare: Path | None = None,
          clone_on_write: bool = False, fd_check: bool = False) -> tuple[str, ...]:
    """The verifier's flags for runtime/launch.py."""
    out: list[str] = []
    if record is not None:
        out += ["--record", str(record)]
    if compare is not None:
        out += ["--compare", str(compare)]
    if clone_on_write:
        out.append("--clone-on-write")
    if fd_check:
        out.append("--fd-check")
    return tuple(out)


def run(request: Request, report: Path, *, echo: bool | IO[str] = False, record: Path | None = None,
        compare: Path | None = None, clone_on_write: bool = False, fd_check: bool = False,
        scratch: Sequence[str | os.PathLike[str]] = ()) -> RunResult:
    """Run once (with its follow-ups); `RunResult.output` is the end of the script's output.

    `echo`: where the output also goes as the script writes it (True: our stderr).
    `scratch`: folders the run uses, removed by its supervisor if we are killed mid-run.
    """
    sink = OutputTail(sys.stderr if echo is True else (echo or None))
    result = run_runtime(request, str(report), flags(record=record, compare=compare,
                                                      clone_on_write=clone_on_write, fd_check=fd_check),
                         stdout=sink, stderr=sink, scratch=tuple(scratch))
    return replace(result, output=sink.getvalue())
