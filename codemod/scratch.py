"""Scratch folders whose owner is in their name, so a killed run's folders can be swept later.

`tempfile.TemporaryDirectory` removes its folder only if the process lives to leave
the `with` block; after a SIGKILL (a cancelled CI job, the OOM killer) it stays in the
temp dir forever. Here each folder is `inplace-fix-<pid>-<random>` in the temp dir
(`inplace-fix-<pid>-<start>-<random>` on Linux, where <start> is when the process
started, in clock ticks since boot: a reused pid is told apart without trusting the
wall clock). The run's supervisor removes a folder when the tool dies mid-run, and
`sweep_stale` removes the folders of this user whose owning process is gone (every
`scratch_dir()` sweeps first).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PREFIX", "scratch_dir", "sweep_stale", "owner_pid"]

PREFIX = "inplace-fix-"
_NAME = re.compile(r"^inplace-fix-(\d+)-(?:(\d+)-)?[A-Za-z0-9_]+$")


@contextmanager
def scratch_dir(*, sweep: bool = True) -> Iterator[str]:
    """A new private folder in the temp dir (its path, as TemporaryDirectory gives), removed on exit."""
    if sweep:
        sweep_stale()
    started = _start_ticks(os.getpid())
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-" + ("" if started is None else f"{started}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def owner_pid(path: str | os.PathLike[str]) -> int | None:
    """The pid of the process that made a scratch folder, from its name (None: not one of ours)."""
    owner = _owner(os.fspath(path))
    return None if owner is None else owner[0]


def _owner(path: str) -> tuple[int, int | None] | None:
    match = _NAME.match(os.path.basename(path))
    if match is None:
        return None
    return int(match.group(1)), None if match.group(2) is None else int(match.group(2))


def sweep_stale(folder: str | None = None) -> tuple[str, ...]:
    """Remove this user's scratch folders in `folder` (default: the temp dir) whose owner is gone."""
    folder = folder or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else None
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return ()
    for entry in entries:
        owner = _owner(entry.name)
        if owner is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        if not _owner_alive(*owner):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return tuple(removed)


def _owner_alive(pid: int, started: int | None) -> bool:
    """Is `pid` still the process that made the folder (same start time, where the name has one)?"""
    if os.name != "posix":
        return True  # Windows: os.kill(pid, 0) is no probe (it sends CTRL_C_EVENT); sweep nothing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: leave the folder to a later sweep
    if started is None:
        return True
    now = _start_ticks(pid)
    return now is None or now == started


def _start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (/proc/PID/stat's field 22); None without /proc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
