"""`scan` and `migrate` read a notebook's code cells: findings at cells, write-back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from notebook_fixture import write_notebook
from diagnose_helpers import run_cli
from inplace_fix.notebook import NotebookError, parse_notebook, to_script

FIXED = b'"relu = nn.ReLU()"'
BROKEN = b'"relu = nn.ReLU(inplace=True)"'


def test_scan_reports_the_cell_and_the_line_in_it(notebook) -> None:
    path, _ = notebook
    done = run_cli("scan", path.name, cwd=path.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("train.ipynb:cell 3:4:8: IPF004 ")
    data = json.loads(run_cli("scan", "--format", "json", ".", cwd=path.parent).stdout)
    [finding] = data["findings"]
    assert (finding["path"], finding["line"], finding["col"], finding["code"]) == ("train.ipynb:cell 3", 4, 7, "IPF004")


def test_directory_scans_take_notebooks_and_skip_checkpoints(notebook) -> None:
    path, _ = notebook
    (path.parent / ".ipynb_checkpoints").mkdir()
    write_notebook(path.parent / ".ipynb_checkpoints" / "train-checkpoint.ipynb")
    data = json.loads(run_cli("scan", "--format", "json", ".", cwd=path.parent).stdout)
    assert [f["path"] for f in data["findings"]] == ["train.ipynb:cell 3"]
    assert data["summary"]["files_scanned"] == 1


def test_migrate_apply_changes_only_the_cell_source(notebook) -> None:
    path, original = notebook
    dry = run_cli("migrate", "--unsafe-fixes", path.name, cwd=path.parent)
    assert dry.returncode == 1 and path.read_bytes() == original
    assert "--- a/train.ipynb\n+++ b/train.ipynb\n" in dry.stdout
    assert '-    "relu = nn.ReLU(inplace=True)"\n+    "relu = nn.ReLU()"\n' in dry.stdout
    done = run_cli("migrate", "--unsafe-fixes", "--apply", path.name, cwd=path.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert path.read_bytes() == original.replace(BROKEN, FIXED)  # outputs, metadata, spacing, final newline
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


def test_a_cell_that_does_not_parse_is_an_error_at_its_cell(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    write_notebook(path, [("code", "import torch"), ("markdown", "x"), ("code", "x = 1\ny = (")])
    done = run_cli("scan", path.name, cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.ipynb" in done.stdout + done.stderr and "(cell 3, line 2," in done.stdout + done.stderr


def test_the_script_round_trips_and_masks_come_back(notebook) -> None:
    path, original = notebook
    script = to_script(parse_notebook(original.decode("utf-8")))
    assert script.write_back(script.text) == original.decode("utf-8")
    assert "pass  # !echo preparing\n" in script.text and "pass  # %matplotlib inline\n" in script.text
    line = script.text.splitlines().index("relu = nn.ReLU(inplace=True)") + 1
    assert script.locate(line) == (3, 4)
    edited = script.write_back(script.text.replace("x = torch.randn(4, 3)", "x = torch.randn(4, 3)  # \u00e9"))
    cell = nbformat.reads(edited, as_version=4).cells[2]
    assert cell.source.startswith("!echo preparing\nx = torch.randn(4, 3)  # \u00e9\n")


def test_a_string_source_stays_a_string(tmp_path: Path) -> None:
    text = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": "a = 1\nb = 2"}], "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5}, indent=1)
    script = to_script(parse_notebook(text))
    assert script.write_back(script.text.replace("b = 2", "b = 3")) == text.replace('"a = 1\\nb = 2"',
                                                                                    '"a = 1\\nb = 3"')


def test_not_a_notebook() -> None:
    with pytest.raises(NotebookError, match="invalid JSON"):
        parse_notebook("{nope")
    with pytest.raises(NotebookError, match="nbformat 3"):
        parse_notebook('{"worksheets": []}')
