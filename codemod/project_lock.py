"""One writing run at a time per project root: an advisory lock on `<root>/.inplace-fix/lock`.

Why: two `--apply` runs on one project (two terminals, an editor hook and a manual
run) would each verify against files the other is changing. The lock is `flock`,
so it is released by the kernel when its holder dies, even by `kill -9`: a stale
lock never blocks anyone. A second run waits a few seconds, then gives up with a
message that names the holder; it has touched nothing.
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from types import TracebackType

from inplace_fix.errors import InputError
from inplace_fix.journal import state_dir

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; a run never waits
    fcntl = None  # type: ignore[assignment]

__all__ = ["LockBusy", "ProjectLock", "WAIT_S"]

WAIT_S = 5.0
_POLL_S = 0.1


class LockBusy(InputError):
    """Another run holds the project's lock (exit 2: nothing was touched)."""


_HELD: "weakref.WeakSet[ProjectLock]" = weakref.WeakSet()


def _drop_in_child() -> None:
    """A forked child (a `migrate` worker) lets go of its parent's locks: a flock belongs to the
    open file, which fork shares, so a child still holding it would keep the project locked
    after its parent was killed."""
    for lock in list(_HELD):
        fd, lock._fd = lock._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


class ProjectLock:
    """`with ProjectLock(root):` holds the lock; `try_acquire()` does not wait."""

    def __init__(self, root: Path | str, wait: float = WAIT_S, what: str = "--apply") -> None:
        self.root = Path(root)
        self.wait = wait
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        return os.open(state_dir(self.root) / "lock", os.O_RDWR | os.O_CREAT, 0o644)

    def _lock(self, fd: int) -> bool:
        if fcntl is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        fd = self._open()
        if not self._lock(fd):
            os.close(fd)
            return False
        self._fd = fd
        _HELD.add(self)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self._holder()
                who = f" (pid {holder})" if holder else ""
                raise LockBusy(f"another inplace-fix {self.what} is running in {self.root}{who}; "
                               f"waited {self.wait:g} s and touched nothing: run again when it ends")
            time.sleep(_POLL_S)

    def _holder(self) -> str | None:
        try:
            text = (self.root / ".inplace-fix" / "lock").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
            _HELD.discard(self)

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
