"""The on-disk journal: the original bytes of every file a run writes, saved before it writes.

Why on disk: a run can be killed at any moment (`kill -9`, an OOM kill, a cancelled
CI job). What is in memory dies with it; what is under `<root>/.inplace-fix/journal/`
does not. Each run that writes keeps one journal folder:

    .inplace-fix/.gitignore            "*": nothing here is ever committed
    .inplace-fix/journal/<id>/N.orig   the original bytes of the N-th file, written first
    .inplace-fix/journal/<id>/N.new    (a run of many files) the bytes it will write, kept here
                                       instead of in memory until it writes them
    .inplace-fix/journal/<id>/journal.json
        {"pid", "started", "verified", "command", "files": [{"path", "original", "mode", "written": [sha256...]}]}

Order of a write: the original copy, then journal.json naming the hash about to be
written, then the file. A journal whose run finished is removed. `recover` (run by
the next run in the project, or `inplace-fix restore`) finds the journals of runs that
died (`command` names it: "" for `inplace-fix SCRIPT --apply`, or "migrate --apply"):
an unverified one, or a verified one whose files are not all written yet, has
every file put back to its original bytes; a verified one that finished writing is
kept. A file changed by someone since our write is left alone and its original is
kept under `.inplace-fix/recovered/`.
"""

from __future__ import annotations

import glob
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


def _write_durably(path: Path, data: bytes, sync_folder: bool = True) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    if sync_folder:
        _fsync_dir(path.parent)


def _spool_name(entry: dict) -> str:
    return entry["original"].removesuffix(".orig") + ".new"


class Journal:
    """One run's journal; the folder appears with the first file saved."""

    def __init__(self, root: Path | str, command: str = "") -> None:
        self.root = Path(root)
        self.command = command  # which command wrote it, for the lines `recover` leads to
        self._folder: Path | None = None
        self._entries: dict[Path, dict] = {}
        self._saved = 0  # originals saved so far: names them, never reused
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
                **({"command": self.command} if self.command else {}),
                "files": [dict(entry, path=str(path)) for path, entry in sorted(self._entries.items())]}
        _write_durably(folder / "journal.json", json.dumps(data, indent=1).encode("utf-8"))

    def will_write(self, original: SourceFile, data: bytes) -> None:
        """Before `data` replaces `original.path`: keep the original (once) and name what comes."""
        self.stage(original.path, original.data, original.mode, data)
        self.save()

    def stage(self, path: Path, original: bytes, mode: int | None, data: bytes, *, spool: bool = False) -> None:
        """`will_write` for one of many files: the index is saved by `save`, once for them all
        (saving it per file would rewrite it as often as there are files). With `spool`, `data`
        is kept beside the original, for `spooled`: the caller need not hold every file's new
        bytes until it writes them."""
        entry = self._entries.get(path)
        if entry is None:
            folder = self._open()
            name = f"{self._saved}.orig"
            self._saved += 1
            _write_durably(folder / name, original, sync_folder=False)  # the index's save syncs the folder
            entry = self._entries[path] = {"original": name, "mode": mode, "written": []}
        entry["written"].append(_sha(data))
        if spool:
            (self._open() / _spool_name(entry)).write_bytes(data)  # read back by this run only: no fsync

    def spooled(self, path: Path) -> bytes:
        """The bytes `stage(..., spool=True)` kept for `path`."""
        return (self._open() / _spool_name(self._entries[path])).read_bytes()

    def save(self) -> None:
        """Make the index durable: from here on a crash is undone by `recover`."""
        if self._entries or self._folder is not None:
            self._save_index()

    def forget(self, path: Path) -> None:
        """A file the run will not write after all (it holds its original bytes): out of the
        index, so that `recover` does not judge the run's other files by it."""
        entry = self._entries.pop(path, None)
        if entry is not None and self._folder is not None:
            for name in (entry["original"], _spool_name(entry)):
                try:
                    os.unlink(self._folder / name)
                except OSError:
                    pass

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
    command: str = ""  # the dead run's command (Journal.command): "" for `inplace-fix SCRIPT --apply`


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


def _remove_temp_files(path: Path) -> None:
    """The temporary files `write_atomic` leaves beside `path` when killed before its rename."""
    target = Path(os.path.realpath(path))
    try:
        for temp in target.parent.glob(f".{glob.escape(target.name)}.*.ipf-tmp"):
            temp.unlink()
    except OSError:
        pass


def _recover_one(root: Path, folder: Path) -> list[Recovered]:
    try:
        index = json.loads((folder / "journal.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # no index: the run died before its first write
    started, pid, command = str(index.get("started") or ""), index.get("pid"), str(index.get("command") or "")
    entries = [e for e in index.get("files") or () if isinstance(e, dict) and e.get("written")]
    now = {}  # each file's hash, not its bytes: a migrate's journal can name thousands of files
    for entry in entries:
        try:
            now[entry["path"]] = _sha(Path(entry["path"]).read_bytes())
        except OSError:
            now[entry["path"]] = None
    finished = bool(index.get("verified")) and all(now[e["path"]] == e["written"][-1] for e in entries)
    out = []
    for entry in entries:
        path = Path(entry["path"])
        _remove_temp_files(path)
        try:
            original = (folder / entry["original"]).read_bytes()
        except OSError:
            continue
        current = now[entry["path"]]
        if finished:
            out.append(Recovered(path, "kept-fix", started, pid, command=command))
        elif current == _sha(original):
            out.append(Recovered(path, "unchanged", started, pid, command=command))
        elif current in entry["written"]:
            write_atomic(path, original, entry.get("mode"))
            out.append(Recovered(path, "restored", started, pid, command=command))
        else:
            keep = state_dir(root) / "recovered"
            keep.mkdir(exist_ok=True)
            copy = keep / f"{path.name}.{folder.name}.orig"
            shutil.copyfile(folder / entry["original"], copy)
            out.append(Recovered(path, "changed-since", started, pid, copy, command))
    return out
