"""The one place source files are read and written, so nothing is ever lost.

Every rewrite goes through `read_source` -> edit `SourceFile.text` -> `encode` ->
`write_atomic`. The text keeps its line endings exactly as on disk (no universal
newlines), the encoding comes from the BOM or the coding cookie (PEP 263), and a
write replaces the file in one rename so a crash never leaves half a file, keeping
its owner, group and mode (a file with other hard links is rewritten in place
instead, so that it stays one file). `restore` puts back the exact original bytes
(the fixer's rollback).
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from inplace_fix.paths import link_problem

__all__ = ["SourceError", "SourceFile", "read_source", "decode", "encode", "write_atomic", "restore"]


class SourceError(Exception):
    """A file that cannot be read, decoded or encoded; `reason` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SourceFile:
    """A source file as read from disk: the exact bytes and the decoded text.

    `text` has no BOM and untouched line endings (CRLF stays CRLF), so positions
    computed on it match what `ast` and libcst see.
    """

    path: Path
    data: bytes
    text: str
    encoding: str  # a codec name without "-sig": the BOM is tracked by `bom`
    bom: bool
    mode: int  # permission bits (stat.S_IMODE), restored on every write


def decode(data: bytes, path: Path | str = "<bytes>") -> tuple[str, str, bool]:
    """(text, encoding, bom) of Python source bytes, the way the interpreter decodes them."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # bad or conflicting cookie / BOM, or non-UTF-8 bytes in the first lines
        message = str(exc.msg if hasattr(exc, "msg") else exc).replace(f" for {str(path)!r}", "")
        if "invalid or missing encoding declaration" in message:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise SourceError(f"cannot decode as utf-8 (and no coding cookie): {error}") from None
        raise SourceError(f"cannot decode: {message}") from None
    bom = data.startswith(codecs.BOM_UTF8)
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    body = data[len(codecs.BOM_UTF8):] if bom else data
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        hint = " (and no coding cookie)" if encoding == "utf-8" and not bom else ""
        raise SourceError(f"cannot decode as {encoding}{hint}: {exc}") from None
    return text, encoding, bom


def read_source(path: Path | str) -> SourceFile:
    """Read and decode one file; raises SourceError (with a reason) instead of OSError."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except OSError as exc:
        link = link_problem(path)
        raise SourceError(f"cannot read: {exc.strerror or exc}" + (f" ({link})" if link else "")) from None
    text, encoding, bom = decode(data, path)
    return SourceFile(path=path, data=data, text=text, encoding=encoding, bom=bom, mode=mode)


def encode(source: SourceFile, new_text: str) -> bytes:
    """The bytes to write for `new_text`: same encoding and BOM as the original."""
    try:
        body = new_text.encode(source.encoding)
    except UnicodeEncodeError as exc:
        raise SourceError(f"the rewritten text cannot be encoded as {source.encoding}: {exc}") from None
    return (codecs.BOM_UTF8 + body) if source.bom else body


def write_atomic(path: Path | str, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data`, keeping its owner, group, permission bits and links.

    Why each step: the new text goes to a temporary file in the same folder (a rename
    across file systems is not atomic) and replaces the file in one rename, so a crash
    leaves the old file or the new one, never half of either. That temporary file is
    ours, so it gets the original's owner and group before the rename (a rewrite run
    as root must not hand a user's file to root); when that is not permitted and the
    file is already ours only the group may change, and a file owned by someone else
    is refused (OSError) rather than silently taken over. The mode is set after the
    owner, since a change of owner clears the set-id bits.

    A file with other hard links (st_nlink > 1) is rewritten in place instead: a rename
    would give this name a new inode and split it from the other names, which would
    keep the old text. That write is not atomic; it keeps the inode, so every link
    sees the new text. A symlink is followed: its target is rewritten and the link
    stays a link (whether the target may be edited is for the caller to decide, see
    `paths.editable`). The temporary file is removed if anything fails.
    """
    target = Path(os.path.realpath(path))
    try:
        before: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        before = None
    if mode is None:
        mode = stat.S_IMODE(before.st_mode) if before is not None else 0o644
    if before is not None and before.st_nlink > 1 and stat.S_ISREG(before.st_mode):
        _rewrite_in_place(target, data, mode)
        return
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".ipf-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if before is not None:
                _keep_owner(handle.fileno(), before)
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _keep_owner(fd: int, original: os.stat_result) -> None:
    """Give the open temporary file the original's owner and group (see `write_atomic`)."""
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (original.st_uid, original.st_gid):
        return
    try:
        os.fchown(fd, original.st_uid, original.st_gid)
    except PermissionError:
        if original.st_uid != mine.st_uid:
            raise PermissionError(errno.EPERM, f"the file belongs to uid {original.st_uid} and a rewrite "
                                               "would make it ours") from None
        # ours already: a group we are not in cannot be kept, the file stays ours


def _rewrite_in_place(target: Path, data: bytes, mode: int) -> None:
    """Overwrite the file's bytes through its own inode (for a file with other hard links)."""
    with open(target, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) != mode:
            os.fchmod(handle.fileno(), mode)
        os.fsync(handle.fileno())


def restore(source: SourceFile) -> None:
    """Put back the exact bytes and mode that `read_source` saw (rollback); the owner,
    group and hard links are kept as by any `write_atomic`."""
    write_atomic(source.path, source.data, source.mode)
