"""`migrate --apply`'s writes, with the promises of `inplace-fix SCRIPT --apply`.

One writing run per project root: the roots' `ProjectLock`s are taken before the first
file is read, so no `--apply` can commit a verified fix between migrate's read of a file
and its write. A journal that a dead run left is undone first (`journal.recover`). The
writes are all or nothing per root, like a verified fix's commit: as each result arrives
(the workers only rewrite; this process writes) the file's original is saved and its new
bytes are kept under the journal, not in memory; when every result is in, the index is
saved once, then each file is written atomically (`fileio.write_atomic`: owner, mode and
hard links kept). Killed before the index is saved, nothing was written; after, the next
run (or `inplace-fix restore`) puts back every file written, or keeps them all when every
one was. A file that changed after it was read is left alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from inplace_fix.errors import InputError
from inplace_fix.fileio import write_atomic
from inplace_fix.journal import STATE_DIR, Journal, Recovered, recover
from inplace_fix.lint import FileResult
from inplace_fix.paths import find_root, resolve
from inplace_fix.project_lock import WAIT_S, ProjectLock

__all__ = ["COMMAND", "BatchWrite", "write_roots"]

COMMAND = "migrate --apply"  # Journal.command: how a dead run's journal names this command
CHANGED = "changed after migrate read it (by another program): left alone; run migrate again"


def write_roots(named: Iterable[Path], files: Iterable[Path]) -> tuple[Path, ...]:
    """The project roots that `files` lie under, sorted.

    A file's root is the one `inplace-fix SCRIPT --apply` takes for a script beside it (the
    git top-level above it). Outside git every folder is its own root, so there a file
    belongs to the root of the command-line path (`named`, as `inplace-fix restore PATH`
    finds it) that it lies under: one lock and one journal for the tree, not one per folder.
    """
    tops = sorted({Path(find_root(p if p.is_dir() else p.parent)) for p in named}, key=lambda p: len(p.parts))
    by_folder: dict[Path, Path] = {}
    for file in files:
        folder = resolve(file).parent
        if folder not in by_folder:
            root = Path(find_root(folder))
            if not (root / ".git").exists():
                root = next((top for top in tops if top == root or top in root.parents), root)
            by_folder[folder] = root
    return tuple(sorted(set(by_folder.values())))


@dataclass(frozen=True)
class _Staged:
    """A file journaled for writing: its root, the hash of the bytes read, its mode then."""

    root: Path
    read_sha: str
    mode: int


class BatchWrite:
    """`with BatchWrite(roots) as batch:` locks the roots and undoes dead runs (`recovered`);
    `run_many(..., on_result=batch.stage)` journals each rewrite as it arrives, and
    `batch.commit(results)` writes them. Leaving the block early writes nothing, and an
    interruption among the writes puts the written files back."""

    def __init__(self, roots: Iterable[Path], wait: float = WAIT_S) -> None:
        self.roots = tuple(sorted(set(roots)))
        self.wait = wait
        self.recovered: tuple[Recovered, ...] = ()
        self._locks: list[ProjectLock] = []
        self._journals: dict[Path, Journal] = {}
        self._staged: dict[Path, _Staged] = {}
        self._writing = False

    def __enter__(self) -> "BatchWrite":
        try:
            for root in self.roots:  # in sorted order: two runs over the same roots never deadlock
                lock = ProjectLock(root, self.wait)
                try:
                    lock.acquire()
                except OSError as exc:
                    raise InputError(f"cannot lock {root} for writing: {exc.strerror or exc}") from None
                self._locks.append(lock)
            recovered: list[Recovered] = []
            for root in self.roots:
                recovered += recover(root)
        except BaseException:
            self._release()
            raise
        self.recovered = tuple(recovered)
        self._journals = {root: Journal(root, COMMAND) for root in self.roots}
        return self

    def stage(self, result: FileResult) -> FileResult:
        """Journal one result's rewrite (original saved, new bytes kept on disk); the result
        without its bytes, or with an error when the file cannot be written safely."""
        pending = result.pending
        if pending is None:
            return result
        result = replace(result, pending=None)
        key = resolve(result.path)
        root = self._root_of(key)
        if root is None:
            return _failed(result, "lies outside every project root this run locked: left alone")
        try:
            current, mode = _read(key)
        except OSError as exc:
            return _failed(result, f"cannot read it again before writing: {exc.strerror or exc}")
        if _sha(current) != pending.read_sha:
            return _failed(result, CHANGED)
        journal = self._journals[root]
        try:
            journal.stage(key, current, mode, pending.data, spool=True)
        except OSError as exc:
            journal.forget(key)
            return _failed(result, f"cannot save its original under {root / STATE_DIR}: {exc.strerror or exc}; "
                                   "left alone")
        self._staged[key] = _Staged(root, pending.read_sha, mode)
        return result

    def commit(self, results: Sequence[FileResult]) -> tuple[FileResult, ...]:
        """Save each journal's index, then write every staged file; the results with `written`
        set, or with the reason a file was left alone."""
        unsaved: dict[Path, str] = {}
        for root, journal in self._journals.items():
            try:
                journal.mark_verified()  # saves the index: from here on a crash is undone by `recover`
            except OSError as exc:
                unsaved[root] = f"cannot save the journal under {root / STATE_DIR}: {exc.strerror or exc}; left alone"
        self._writing = True
        out = []
        for result in results:
            key = resolve(result.path) if result.changed and not result.error else None
            staged = self._staged.pop(key, None) if key is not None else None
            if staged is None or key is None:
                out.append(result)
            elif staged.root in unsaved:
                out.append(_failed(result, unsaved[staged.root]))
            else:
                out.append(self._write(result, key, staged))
        self._writing = False
        self._close()
        return tuple(out)

    def _write(self, result: FileResult, key: Path, staged: _Staged) -> FileResult:
        journal = self._journals[staged.root]
        try:
            current, _ = _read(key)
        except OSError as exc:
            return self._skip(journal, key, _failed(result, f"cannot read it again before writing: "
                                                            f"{exc.strerror or exc}"))
        if _sha(current) != staged.read_sha:
            return self._skip(journal, key, _failed(result, CHANGED))
        try:
            write_atomic(key, journal.spooled(key), staged.mode)
        except OSError as exc:
            _put_back(key, current, staged.mode)  # an in-place write (hard links) may have stopped half-way
            return self._skip(journal, key, _failed(result, f"cannot write: {exc.strerror or exc}"))
        return replace(result, written=True)

    @staticmethod
    def _skip(journal: Journal, key: Path, result: FileResult) -> FileResult:
        """A staged file left with its original bytes: out of the journal, so that a crash
        after the last write does not count it as unwritten and undo the others."""
        journal.forget(key)
        try:
            journal.save()
        except OSError:
            pass
        return result

    def _root_of(self, path: Path) -> Path | None:
        """The deepest locked root above `path` (a nested repository's own, not its parent's)."""
        above = [root for root in self.roots if root in path.parents]
        return max(above, key=lambda root: len(root.parts)) if above else None

    def _close(self) -> None:
        for journal in self._journals.values():
            journal.close()
        self._staged.clear()

    def _release(self) -> None:
        while self._locks:
            self._locks.pop().release()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._writing:  # interrupted among the writes (Ctrl-C, SIGTERM): put back what was written
                for root in self.roots:
                    recover(root)
            self._close()
        finally:
            self._release()


def _read(path: Path) -> tuple[bytes, int]:
    with open(path, "rb") as handle:
        return handle.read(), stat.S_IMODE(os.fstat(handle.fileno()).st_mode)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _failed(result: FileResult, reason: str) -> FileResult:
    return replace(result, error=reason, error_kind="write", written=False)


def _put_back(path: Path, original: bytes, mode: int) -> None:
    try:
        if path.read_bytes() != original:
            write_atomic(path, original, mode)
    except OSError:
        pass
