"""The on-disk journal: the original bytes of every file a run writes, saved before it writes.

Why on disk: a run can be killed at any moment (`kill -9`, an OOM kill, a cancelled
CI job). What is in memory dies with it; what is under `<root>/.inplace-fix/journal/`
does not. Each run that writes keeps one journal folder:

    .inplace-fix/.gitignore            "*": nothing here is ever committed
    .inplace-fix/journal/<id>/N.orig   the original bytes of the N-th file, written first
    .inplace-fix/journal/<id>/journal.json
        {"pid", "started", "verified", "files": [{"path", "original", "mode", "written": [sha256...]}]}

Order of a write: the original copy, then journal.json naming the hash about to be
written, then the file. A journal whose run finished is removed. `recover` (run by
the next run in the project, or `inplace-fix restore`) finds the journals of runs that
died: an unverified one, or a verified one whose files are not all written yet, has
every file put back to its original bytes; a verified one that finished writing is
kept. A file changed by someone since our write is left alone and its original is
kept under `.inplace-fix/recovered/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.fileio import SourceFile, write_atomic

__all__ = ["STATE_DIR", "Journal", "Recovered", "recover", "state_dir"]

STATE_DIR = ".inplace-fix"


def state_dir(root: Path | str) -> Path:
    """`<root>/.inplace-fix`, created with the `.gitignore` that keeps it out of every commit."""
    folder = Path(root) / STATE_DIR
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# inplace-fix's journal and lock: never commit them\n*\n", encoding="utf-8")
    return folder


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Journal:
    """One run's journal; the folder appears with the first file saved."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._folder: Path | None = None
        self._entries: dict[Path, dict] = {}
        self._verified = False

    @property
    def folder(self) -> Path | None:
        return self._folder

    def _open(self) -> Path:
        if self._folder is None:
            base = state_dir(self.root) / "journal"
            base.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S")
            self._folder = Path(os.path.join(base, f"{stamp}-{os.getpid()}"))
            self._folder.mkdir()
            self._started = time.strftime("%Y-%m-%d %H:%M:%S")
        return self._folder

    def _save_index(self) -> None:
        folder = self._open()
        data = {"pid": os.getpid(), "started": self._started, "verified": self._verified,
                "files": [dict(entry, path=str(path)) for path, entry in sorted(self._entries.items())]}
        _write_durably(folder / "journal.json", json.dumps(data, indent=1).encode("utf-8"))

    def will_write(self, original: SourceFile, data: bytes) -> None:
        """Before `data` replaces `original.path`: keep the original (once) and name what comes."""
        entry = self._entries.get(original.path)
        if entry is None:
            folder = self._open()
            name = f"{len(self._entries)}.orig"
            _write_durably(folder / name, original.data)
            entry = self._entries[original.path] = {"original": name, "mode": original.mode, "written": []}
        entry["written"].append(_sha(data))
        self._save_index()

    def mark_verified(self) -> None:
        """What is written from here on is a verified fix: a crash mid-way is still undone, a
        crash after the last write keeps it."""
        self._verified = True
        if self._entries:
            self._save_index()

    def close(self) -> None:
        """The run is over (every file is either the fix or the original again): forget it."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._entries = {}


@dataclass(frozen=True)
class Recovered:
    """What `recover` did to one file of a dead run's journal."""

    path: Path
    action: str  # restored | kept-fix | changed-since (left alone, original kept) | unchanged
    started: str = ""
    pid: int | None = None
    kept_copy: Path | None = None


def recover(root: Path | str) -> list[Recovered]:
    """Undo the writes of every run in this project that died before finishing (call it holding
    the project lock, so no journal of a live run is touched)."""
    base = Path(root) / STATE_DIR / "journal"
    if not base.is_dir():
        return []
    out: list[Recovered] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        out.extend(_recover_one(Path(root), folder))
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _recover_one(root: Path, folder: Path) -> list[Recovered]:
    try:
        index = json.loads((folder / "journal.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # no index: the run died before its first write
    started, pid = str(index.get("started") or ""), index.get("pid")
    entries = [e for e in index.get("files") or () if isinstance(e, dict) and e.get("written")]
    now = {}
    for entry in entries:
        try:
            now[entry["path"]] = Path(entry["path"]).read_bytes()
        except OSError:
            now[entry["path"]] = None
    finished = bool(index.get("verified")) and all(_sha(now[e["path"]]) == e["written"][-1] for e in entries)
    out = []
    for entry in entries:
        path = Path(entry["path"])
        try:
            original = (folder / entry["original"]).read_bytes()
        except OSError:
            continue
        current = now[entry["path"]]
        if finished:
            out.append(Recovered(path, "kept-fix", started, pid))
        elif current == original:
            out.append(Recovered(path, "unchanged", started, pid))
        elif _sha(current) in entry["written"]:
            write_atomic(path, original, entry.get("mode"))
            out.append(Recovered(path, "restored", started, pid))
        else:
            keep = state_dir(root) / "recovered"
            keep.mkdir(exist_ok=True)
            copy = keep / f"{path.name}.{folder.name}.orig"
            shutil.copyfile(folder / entry["original"], copy)
            out.append(Recovered(path, "changed-since", started, pid, copy))
    return out
