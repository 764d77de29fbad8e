"""`--apply`'s edited files: kept in memory while they are verified, written only once verified.

Why: a run can die at any moment. While the edits live here and the re-runs read
them through the runtime's overlay, a killed run leaves the user's files exactly as
they were. Only two things write to disk, both under the project's journal (so
the next run can undo them): `write_through`, for an edited file the overlay could
not reach (the re-run never read it: a process the runtime did not start imported
it), and `commit`, which writes the verified fix.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

from inplace_fix.fileio import SourceFile, read_source, write_atomic
from inplace_fix.fixer.model import FileEdit
from inplace_fix.journal import Journal

__all__ = ["Workspace"]


def _key(path: Path) -> Path:
    return Path(path).resolve()


class Workspace:
    """The current text of every edited file (the original is kept for the diff and the undo)."""

    def __init__(self, root: Path | str) -> None:
        self._journal = Journal(root)
        self._originals: dict[Path, SourceFile] = {}
        self._current: dict[Path, SourceFile] = {}
        self._attempt: dict[Path, SourceFile | None] = {}  # before the current attempt (None: unedited)
        self._on_disk: set[Path] = set()  # written before verification, under the journal

    # -- reading ------------------------------------------------------------------------------
    def read(self, path: Path | str) -> SourceFile:
        """The file as the next run will see it: the edited version, else the disk's."""
        current = self._current.get(_key(Path(path)))
        return current if current is not None else read_source(path)

    def text(self, path: Path) -> str:
        return self.read(path).text

    # -- editing (memory only) ------------------------------------------------------------------
    def begin_attempt(self) -> None:
        """What is edited from here on can be undone alone (a candidate that did not verify)."""
        self._attempt = {}

    def write(self, edit: FileEdit) -> None:
        key = _key(edit.path)
        before = self._current.get(key)
        if key not in self._originals:
            self._originals[key] = read_source(edit.path)
        if key not in self._attempt:
            self._attempt[key] = before
        self._current[key] = replace(before or self._originals[key], data=edit.data, text=edit.after)
        if key in self._on_disk:
            self._write(key)

    def undo_attempt(self) -> None:
        """Every file back to what it was before `begin_attempt` (earlier rounds stay)."""
        for key, before in sorted(self._attempt.items()):
            if before is None:
                self._current.pop(key, None)
            else:
                self._current[key] = before
            if key in self._on_disk:
                self._write(key)
        self._attempt = {}

    def rollback(self) -> list[Path]:
        """Forget every edit; put back the files that had been written. Returns those files."""
        restored = []
        for key in sorted(self._on_disk):
            write_atomic(key, self._originals[key].data, self._originals[key].mode)
            restored.append(self._originals[key].path)
        self._current.clear()
        self._attempt = {}
        self._on_disk.clear()
        self._journal.close()
        return restored

    def changed(self) -> list[Path]:
        """The files whose text differs from the user's (a file edited back is unchanged)."""
        return [self._originals[k].path for k, now in sorted(self._current.items())
                if now.data != self._originals[k].data]

    # -- what the runtime sees --------------------------------------------------------------------
    def overlay(self, path: Path) -> Path | None:
        """Write the runtime's overlay file (every edited file not on disk); None when empty."""
        files = {str(k): {"data": base64.b64encode(now.data).decode("ascii"), "text": now.text}
                 for k, now in sorted(self._current.items())
                 if k not in self._on_disk and now.data != self._originals[k].data}
        if not files:
            return None
        path.write_text(json.dumps({"files": files}), encoding="utf-8")
        return path

    def unserved(self, served: list[str] | None) -> list[Path]:
        """The edited files the re-run did not read through the overlay (all, if it took none)."""
        waiting = [k for k in self.changed_keys() if k not in self._on_disk]
        if served is None:
            return waiting
        seen = {_key(Path(p)) for p in served}
        return [k for k in waiting if k not in seen]

    def changed_keys(self) -> list[Path]:
        return [k for k, now in sorted(self._current.items()) if now.data != self._originals[k].data]

    # -- disk ---------------------------------------------------------------------------------------
    def write_through(self, keys: list[Path]) -> None:
        """Write these edited files before verification, under the journal (the overlay cannot reach
        the process that reads them); they stay written, and journaled, until commit or rollback."""
        for key in keys:
            self._on_disk.add(key)
            self._write(key)

    def _write(self, key: Path) -> None:
        original = self._originals[key]
        now = self._current.get(key, original)
        self._journal.will_write(original, now.data)
        write_atomic(key, now.data, original.mode)

    def changed_meanwhile(self) -> list[Path]:
        """Edited files whose disk bytes are no longer what the run read (an editor saved them):
        writing the fix over them would lose that work."""
        out = []
        for key in self.changed_keys():
            if key in self._on_disk:
                continue
            try:
                now = key.read_bytes()
            except OSError:
                now = None
            if now != self._originals[key].data:
                out.append(self._originals[key].path)
        return out

    def commit(self) -> list[Path]:
        """Write the verified edits: journaled, so a crash half-way leaves the originals."""
        self._journal.mark_verified()
        pending = [key for key in self.changed_keys() if key not in self._on_disk]
        for key in pending:  # every file and its target hash are journaled before the first write
            self._journal.will_write(self._originals[key], self._current[key].data)
        for key in pending:
            self._on_disk.add(key)
            write_atomic(key, self._current[key].data, self._originals[key].mode)
        written = self.changed()
        self._journal.close()
        self._on_disk.clear()
        return written
