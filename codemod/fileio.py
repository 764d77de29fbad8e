"""The one place source files are read and written, so nothing is ever lost.

Every rewrite goes through `read_source` -> edit `SourceFile.text` -> `encode` ->
`write_atomic`. The text keeps its line endings exactly as on disk (no universal
newlines), the encoding comes from the BOM or the coding cookie (PEP 263), and a
write replaces the file in one rename so a crash never leaves half a file.
`restore` puts back the exact original bytes (the fixer's rollback).
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

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
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
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
    """Replace `path` with `data` in one rename, keeping its permission bits.

    The temporary file lives in the same folder (a rename across file systems is
    not atomic) and is removed if anything fails. A symlink is followed: its
    target is rewritten and the link stays a link.
    """
    target = Path(os.path.realpath(path))
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".ipf-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def restore(source: SourceFile) -> None:
    """Put back the exact bytes and mode that `read_source` saw (rollback)."""
    write_atomic(source.path, source.data, source.mode)
