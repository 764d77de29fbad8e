"""Termination signals unwind like Ctrl-C, so every command cleans up after itself."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["terminate_like_ctrl_c"]


@contextmanager
def terminate_like_ctrl_c() -> Iterator[None]:
    """SIGTERM/SIGHUP (a CI job cancelled, `timeout`, a closed terminal) raise SystemExit(128 + signum).

    The default action kills the process on the spot: an --apply edit stays on disk
    unverified, the script (in its own session) or the migrate workers run on as
    orphans and keep writing. Raising instead lets every `finally` run: the runner
    stops the script's process group, --apply rolls its edits back, the pool stops
    its workers (which die at once: see inplace_fix.bulk), and fileio removes a temp file.
    """
    if threading.current_thread() is not threading.main_thread() or os.name != "posix":
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        # one-shot: a second signal (a pool terminating its workers, an impatient
        # `kill` loop) must not interrupt the cleanup the first one started
        for number in previous_numbers:
            signal.signal(number, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous_numbers = (signal.SIGTERM, signal.SIGHUP)

    previous = {number: signal.signal(number, handler) for number in previous_numbers}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
