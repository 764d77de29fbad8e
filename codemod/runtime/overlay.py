"""Edited sources served from memory, so a fix is verified before it touches the user's files.

The engine writes the edited text of each file into one JSON file (`--overlay`);
inside the user's process every way Python reads a source file sees that text in
place of the file on disk:

- imports (`SourceFileLoader.get_code/get_source/get_data`, which also covers
  `importlib.util.spec_from_file_location`), without ever using or writing a cached
  `.pyc` for an edited file;
- the script itself (`runpy` reads it through `io.open_code`);
- `open()` / `io.open()` / `Path.read_text()` for reading (config files that are
  `exec`'d, `Config.fromfile`-style loaders);
- `linecache` and therefore `inspect.getsource`, tracebacks, TorchScript.

What was actually served is recorded (`served()`): the engine only trusts a
verification in which every edited file was read through the overlay; an edited
file no one read here (imported by a process this one did not start with fork)
is verified on disk instead, under the engine's journal.
"""
from __future__ import annotations

import base64
import builtins
import io
import json
import linecache
import os

__all__ = ["Overlay", "load"]


def _key(path) -> str:
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


class Overlay:
    """Path -> (bytes, text) of every edited file, and the hooks that serve them."""

    def __init__(self, files: dict[str, tuple[bytes, str]]) -> None:
        self._files = {_key(path): value for path, value in files.items()}
        self._names = {os.path.basename(k) for k in self._files}
        self._served: set[str] = set()
        self._undo: list[tuple[object, str, object]] = []

    # -- lookup ---------------------------------------------------------------------------
    def _find(self, path) -> str | None:
        """The overlay key for `path`, cheaply rejecting almost every path on the hot `open` path."""
        try:
            raw = os.fspath(path)
        except TypeError:
            return None
        if isinstance(raw, bytes):
            try:
                raw = os.fsdecode(raw)
            except (UnicodeDecodeError, ValueError):
                return None
        if not isinstance(raw, str) or os.path.basename(raw) not in self._names:
            return None
        key = _key(raw)
        return key if key in self._files else None

    def data(self, path) -> bytes | None:
        key = self._find(path)
        if key is None:
            return None
        self._served.add(key)
        return self._files[key][0]

    def text(self, path, record: bool = True) -> str | None:
        """The edited text; `record=False` for a line lookup, which runs nothing."""
        key = self._find(path)
        if key is None:
            return None
        if record:
            self._served.add(key)
        return self._files[key][1]

    def served(self) -> list[str]:
        return sorted(self._served)

    # -- hooks ----------------------------------------------------------------------------
    def install(self) -> None:
        from importlib.machinery import SourceFileLoader

        overlay = self
        get_code, get_source, get_data = SourceFileLoader.get_code, SourceFileLoader.get_source, \
            SourceFileLoader.get_data

        def serve_code(loader, fullname):
            text = overlay.text(loader.get_filename(fullname))
            if text is None:
                return get_code(loader, fullname)
            return compile(text, loader.get_filename(fullname), "exec", dont_inherit=True)

        def serve_source(loader, fullname):
            text = overlay.text(loader.get_filename(fullname))
            return get_source(loader, fullname) if text is None else text

        def serve_data(loader, path):
            data = overlay.data(path)
            return get_data(loader, path) if data is None else data

        self._patch(SourceFileLoader, "get_code", serve_code)
        self._patch(SourceFileLoader, "get_source", serve_source)
        self._patch(SourceFileLoader, "get_data", serve_data)

        open_code = io.open_code

        def serve_open_code(path):
            data = overlay.data(path)
            return open_code(path) if data is None else io.BytesIO(data)

        self._patch(io, "open_code", serve_open_code)

        real_open = builtins.open

        def serve_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
                       closefd=True, opener=None):
            if isinstance(file, int) or any(c in mode for c in "wax+"):
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            data = overlay.data(file)
            if data is None:
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            stream = io.BytesIO(data)
            stream.name = os.fspath(file)
            if "b" in mode:
                return stream
            return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=newline)

        self._patch(builtins, "open", serve_open)
        self._patch(io, "open", serve_open)

        update = linecache.updatecache

        def serve_lines(filename, module_globals=None):
            text = overlay.text(filename, record=False) if filename else None
            if text is None:
                return update(filename, module_globals)
            lines = text.splitlines(keepends=True)
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            linecache.cache[filename] = (len(text), None, lines, filename)
            return lines

        self._patch(linecache, "updatecache", serve_lines)
        for filename in list(linecache.cache):  # a line cached before we came in is the disk's
            if self._find(filename) is not None:
                linecache.cache.pop(filename, None)

    def _patch(self, owner: object, name: str, value: object) -> None:
        self._undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def uninstall(self) -> None:
        while self._undo:
            owner, name, value = self._undo.pop()
            setattr(owner, name, value)


def load(path: str) -> Overlay:
    """The overlay file the engine wrote: {"files": {path: {"data": base64, "text": str}}}."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    files = {p: (base64.b64decode(v["data"]), v["text"]) for p, v in (raw.get("files") or {}).items()}
    return Overlay(files)

