"""A Jupyter notebook as one Python script, and a rewritten script back into the notebook.

Why one script: the rules, the rewriter and the runtime all work on Python files. The
code cells, in order, become one text (`Script`) with a marker comment before each cell
and a line map back to (cell, line in the cell); IPython syntax (`%magic`, `!shell`,
`x?`, a non-Python `%%cell` magic) is masked as `pass  # ...` lines of the same indent so
the text parses and runs, and is put back on the way out. Writing back edits only the
`"source"` value of each changed cell in the notebook's own JSON text: outputs,
metadata, key order, indentation and the final newline stay byte for byte.

Cells are numbered from 1 over all cells (markdown and raw cells count), the way
notebook editors number them; a position reads `nb.ipynb:cell 3:2` (line 2 of cell 3).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from json.decoder import scanstring

__all__ = ["NotebookError", "Cell", "Notebook", "Script", "parse_notebook", "to_script", "cell_label",
           "is_notebook"]

SUFFIX = ".ipynb"
HEADER = "# inplace-fix: the code cells of a notebook, as one script\n"
_MARKER = re.compile(r"# %% \[inplace-fix cell (\d+)\]\r?\n?\Z")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# cell magics whose body is Python: only their first line is masked
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_MAGIC_ASSIGN = re.compile(r"[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")
_HELP = re.compile(r"\?{0,2}[A-Za-z_][\w.\[\]()]*\?{1,2}\s*\Z")


class NotebookError(Exception):
    """A notebook that cannot be read or written back; `reason` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_notebook(path: object) -> bool:
    return str(path).endswith(SUFFIX)


@dataclass(frozen=True)
class Cell:
    """One cell: its number (1-based over all cells), type, source and where its `"source"` value
    lies in the notebook's text ([start, end) characters)."""

    number: int
    kind: str
    source: str
    span: tuple[int, int] | None


@dataclass(frozen=True)
class Notebook:
    """The notebook's exact text and its cells."""

    text: str
    cells: tuple[Cell, ...]
    language: str  # "python" unless the metadata names another language
    ensure_ascii: bool  # how the file writes non-ASCII text in strings (\\u escapes or raw)

    @property
    def code_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.kind == "code")


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]


def _members(text: str, i: int) -> Iterator[tuple[str, int, int]]:
    """(key, value start, value end) of the JSON object at `i`."""
    if text[i] != "{":
        raise ValueError(f"expected an object at character {i}")
    i = _skip(text, i + 1)
    if text[i] == "}":
        return
    while True:
        if text[i] != '"':
            raise ValueError(f"expected a key at character {i}")
        key, i = scanstring(text, i + 1)
        i = _skip(text, i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at character {i}")
        start = _skip(text, i + 1)
        _, end = _DECODER.raw_decode(text, start)
        yield key, start, end
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
        elif text[i] == "}":
            return
        else:
            raise ValueError(f"expected ',' or '}}' at character {i}")


def _items(text: str, i: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each value of the JSON array at `i`."""
    if text[i] != "[":
        raise ValueError(f"expected an array at character {i}")
    i = _skip(text, i + 1)
    if text[i] == "]":
        return
    while True:
        _, end = _DECODER.raw_decode(text, i)
        yield i, end
        i = _skip(text, end)
        if text[i] == ",":
            i = _skip(text, i + 1)
        elif text[i] == "]":
            return
        else:
            raise ValueError(f"expected ',' or ']' at character {i}")


def _language(document: Mapping) -> str:
    metadata = document.get("metadata") if isinstance(document.get("metadata"), Mapping) else {}
    for key in ("kernelspec", "language_info"):
        block = metadata.get(key)
        if isinstance(block, Mapping):
            name = block.get("language") or (block.get("name") if key == "language_info" else None)
            if isinstance(name, str) and name:
                return name.lower()
    return "python"


def _joined(source: object) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    raise NotebookError("a cell's source is neither a string nor a list of strings")


def parse_notebook(text: str) -> Notebook:
    """The cells of a notebook (nbformat 4) and where each `"source"` lies; NotebookError otherwise."""
    text = text[1:] if text.startswith("\ufeff") else text
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a notebook: invalid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        if isinstance(document, dict) and "worksheets" in document:
            raise NotebookError("nbformat 3 notebook: open and save it in Jupyter to convert it to nbformat 4")
        raise NotebookError("not a notebook: no \"cells\" list")
    cells: list[Cell] = []
    try:
        top = _skip(text, 0)
        for key, start, _end in _members(text, top):
            if key != "cells":
                continue
            for number, (cell_start, _cell_end) in enumerate(_items(text, start), 1):
                span = None
                for cell_key, value_start, value_end in _members(text, cell_start):
                    if cell_key == "source":
                        span = (value_start, value_end)
                data = document["cells"][number - 1]
                if not isinstance(data, dict):
                    raise NotebookError(f"cell {number} is not an object")
                cells.append(Cell(number, str(data.get("cell_type") or ""), _joined(data.get("source", "")), span))
    except (ValueError, IndexError) as exc:
        raise NotebookError(f"not a notebook: {exc}") from None
    ensure_ascii = text.isascii() and bool(re.search(r"\\u[0-9a-fA-F]{4}", text))
    return Notebook(text, tuple(cells), _language(document), ensure_ascii)


# ------------------------------------------------------------------ cells -> one script


def _parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _is_ipython(stripped: str) -> bool:
    return (stripped.startswith(("%", "!")) or bool(_MAGIC_ASSIGN.match(stripped))
            or bool(_HELP.match(stripped)))


def _mask_line(line: str) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    stripped = body.lstrip()
    return f"{body[:len(body) - len(stripped)]}pass  # {stripped}{ending}"


def _masked(source: str) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """The cell's lines with IPython syntax masked, and (masked, original) for each masked line.

    A cell that parses as Python is left alone, so a `%` or `!` inside a string is never touched.
    """
    lines = source.splitlines(keepends=True)
    if _parses(source):
        return lines, ()
    first = lines[0].strip() if lines else ""
    whole = first.startswith("%%") and first[2:].split(" ", 1)[0] not in PYTHON_CELL_MAGICS
    out, masks = [], []
    for index, line in enumerate(lines):
        if whole or (index == 0 and first.startswith("%%")) or _is_ipython(line.strip()):
            new = _mask_line(line)
            masks.append((new, line))
            out.append(new)
        else:
            out.append(line)
    return out, tuple(masks)


@dataclass(frozen=True)
class Script:
    """The code cells as one Python text, with each line's (cell, line in cell) and the masks."""

    notebook: Notebook
    text: str
    where: tuple[tuple[int, int] | None, ...]  # index: script line - 1; None for a marker or the header
    masks: Mapping[int, tuple[tuple[str, str], ...]]  # cell number -> (masked line, original line)

    def locate(self, line: int) -> tuple[int, int] | None:
        """(cell, line in the cell) of a 1-based script line; None for the lines the tool added."""
        return self.where[line - 1] if 0 < line <= len(self.where) else None

    def first_line(self, cell: int) -> int:
        """The script line of a cell's first line (1-based); 0 when the cell is not in the script."""
        for index, spot in enumerate(self.where):
            if spot is not None and spot[0] == cell:
                return index + 1
        return 0

    def write_back(self, new_text: str) -> str:
        """The notebook's text with each code cell whose script lines changed given the new source.

        Everything else is the original text, byte for byte. NotebookError when the rewrite
        moved or removed a cell's marker (the cells could no longer be told apart).
        """
        chunks = self._split(new_text)
        text = self.notebook.text
        edits = []
        for cell in self.notebook.code_cells:
            lines = chunks.get(cell.number)
            if lines is None:
                continue
            source = _unmasked(lines, self.masks.get(cell.number, ()))
            if not cell.source.endswith("\n") and source.endswith("\n"):
                source = source[:-1]
            if source == cell.source:
                continue
            if cell.span is None:
                raise NotebookError(f"cell {cell.number} has no \"source\" to write into")
            start, end = cell.span
            edits.append((start, end, _encode_source(text[start:end], source, self.notebook.ensure_ascii)))
        for start, end, value in sorted(edits, reverse=True):
            text = text[:start] + value + text[end:]
        return text

    def _split(self, new_text: str) -> dict[int, list[str]]:
        """The new script's lines per cell number (lines a rewrite put above every cell go to the first)."""
        chunks: dict[int, list[str]] = {}
        head: list[str] = []
        current: list[str] | None = None
        order = []
        for line in new_text.splitlines(keepends=True):
            marker = _MARKER.match(line)
            if marker:
                current = chunks.setdefault(int(marker[1]), [])
                order.append(int(marker[1]))
            elif current is None:
                if line != HEADER:
                    head.append(line)
            else:
                current.append(line)
        expected = [c.number for c in self.notebook.code_cells]
        if order != expected:
            raise NotebookError("the rewrite moved the cell boundaries of the notebook; left alone")
        if head and expected:
            chunks[expected[0]][:0] = head
        return chunks


def _unmasked(lines: list[str], masks: tuple[tuple[str, str], ...]) -> str:
    waiting = list(masks)
    out = []
    for line in lines:
        for index, (masked, original) in enumerate(waiting):
            if line == masked:
                line = original
                del waiting[index]
                break
        out.append(line)
    return "".join(out)


def _encode_source(raw: str, source: str, ensure_ascii: bool) -> str:
    """A new `"source"` value written the way the old one was: one string, or a list of lines with
    the same spacing; a line that was there before keeps its exact old spelling."""
    if not raw.startswith("["):
        return json.dumps(source, ensure_ascii=ensure_ascii)
    items = list(_items(raw, 0))
    spelled = {json.loads(raw[a:b]): raw[a:b] for a, b in items}
    lines = source.splitlines(keepends=True)
    values = [spelled.get(line) or json.dumps(line, ensure_ascii=ensure_ascii) for line in lines]
    if not items:
        return json.dumps(lines, ensure_ascii=ensure_ascii)
    opening = raw[1:items[0][0]]
    closing = raw[items[-1][1]:-1]
    separator = raw[items[0][1]:items[1][0]] if len(items) > 1 else "," + opening
    return "[" + opening + separator.join(values) + closing + "]" if values else "[]"


def to_script(notebook: Notebook) -> Script:
    """The code cells in order as one script (a marker comment before each), and its line map."""
    parts = [HEADER]
    where: list[tuple[int, int] | None] = [None]
    masks: dict[int, tuple[tuple[str, str], ...]] = {}
    for cell in notebook.code_cells:
        parts.append(f"# %% [inplace-fix cell {cell.number}]\n")
        where.append(None)
        lines, masked = _masked(cell.source)
        if masked:
            masks[cell.number] = masked
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        parts.extend(lines)
        where.extend((cell.number, n) for n in range(1, len(lines) + 1))
    return Script(notebook, "".join(parts), tuple(where), masks)


def cell_label(display: str, cell: int) -> str:
    """How a cell is named where a file path would stand: `nb.ipynb:cell 3`."""
    return f"{display}:cell {cell}"
