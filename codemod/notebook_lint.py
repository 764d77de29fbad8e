"""`scan` and `migrate` on a notebook: its code cells analyzed as one script (`notebook.Script`),
each finding shown at its cell (`nb.ipynb:cell 3`, line in the cell), and a rewrite written
back into the cells' `"source"` values, so the diff and the bytes written are the notebook's
own, everything outside the changed sources untouched.

`lint` calls these three around its usual read / analyze / rewrite; nothing here reads or
writes a file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from inplace_fix.fileio import SourceFile
from inplace_fix.notebook import NotebookError, Script, cell_label, parse_notebook, to_script
from inplace_fix.patch import unified_diff
from inplace_fix.transforms.base import Finding

__all__ = ["script_source", "syntax_reason", "finish"]

SKIPPED = "not a Python notebook (its kernel's language is {}): skipped"


def script_source(source: SourceFile) -> tuple[Script | None, SourceFile, str]:
    """(the script, the file with the script as its text, a note); no script for a notebook in
    another language. Raises NotebookError for a file that is not a notebook."""
    notebook = parse_notebook(source.text)
    if notebook.language != "python":
        return None, source, SKIPPED.format(notebook.language)
    script = to_script(notebook)
    return script, replace(source, text=script.text), ""


def _in_cells(finding: Finding, script: Script, display: str) -> Finding:
    spot = script.locate(finding.line)
    if spot is None:
        return finding
    cell, line = spot
    end = script.locate(finding.end_line) if finding.end_line else None
    end_line = end[1] if end and end[0] == cell else 0
    return replace(finding, path=cell_label(display, cell), line=line, end_line=end_line)


def syntax_reason(exc: SyntaxError, script: Script, display: str) -> str:
    """`cannot parse: <msg> (cell 3, line 2, column 5)`: where the user can find it."""
    spot = script.locate(exc.lineno or 0)
    where = f" (cell {spot[0]}, line {spot[1]}, column {exc.offset})" if spot else ""
    return f"cannot parse: {exc.msg}{where}"


def finish(script: Script, display: str, source: SourceFile, result: dict[str, Any], new_text: str | None) -> None:
    """Move `result` from the script to the notebook: findings at cell positions, and the diff and
    the bytes to write (when there are any) made from the notebook's text with the new cell sources."""
    for key in ("findings", "fixed", "unsafe_skipped", "unfixed"):
        if key in result:
            result[key] = tuple(_in_cells(f, script, display) for f in result[key])
    if new_text is None or not result.get("diff"):
        return
    try:
        notebook_text = script.write_back(new_text)
    except NotebookError as exc:
        result.pop("_data", None)
        result.update(diff="", error=exc.reason, error_kind="rewrite",
                      unfixed=tuple(sorted(result.get("unfixed", ()) + result.get("fixed", ()))), fixed=())
        return
    bom = "\ufeff" if source.bom else ""
    result["diff"] = unified_diff(display, bom + script.notebook.text, bom + notebook_text)
    if "_data" in result:
        result["_data"] = (bom + notebook_text).encode("utf-8")
