"""`inplace-fix nb.ipynb [--apply]`: the code cells run as one script, fixed and verified in the cells."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from diagnose_helpers import run_cli
from notebook_fixture import write_notebook

FIXED = b'"relu = nn.ReLU()"'
BROKEN = b'"relu = nn.ReLU(inplace=True)"'


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".inplace-fix.py")]


def test_dry_run_names_the_cells_and_shows_the_notebook_diff(notebook) -> None:
    path, original = notebook
    done = run_cli("train.ipynb", cwd=path.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "--> train.ipynb:cell 4:1:" in done.stdout  # saved by sigmoid
    assert "--> train.ipynb:cell 4:2:" in done.stdout  # modified by relu_
    assert "--> train.ipynb:cell 3:4:" in done.stdout  # the in-place ReLU built
    assert '-    "relu = nn.ReLU(inplace=True)"\n' in done.stdout and "+++ b/train.ipynb" in done.stdout
    assert "`inplace-fix train.ipynb --apply`" in done.stdout
    assert path.read_bytes() == original and not _leftovers(path.parent)


def test_apply_fixes_verifies_and_writes_only_the_cell(notebook) -> None:
    path, original = notebook
    done = run_cli("train.ipynb", "--apply", "--json", cwd=path.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "fixed" and report["files_changed"] == ["train.ipynb"]
    [problem] = report["problems"]
    assert (problem["modified_at"]["file"], problem["modified_at"]["line"]) == ("train.ipynb:cell 4", 2)
    assert (problem["fix"]["file"], problem["fix"]["line"]) == ("train.ipynb:cell 3", 4)
    assert report["verification"]["verified"] is True
    assert path.read_bytes() == original.replace(BROKEN, FIXED)
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    assert not _leftovers(path.parent)


def test_input_errors_are_one_line_at_the_cell(tmp_path: Path) -> None:
    write_notebook(tmp_path / "bad.ipynb", [("code", "import torch"), ("code", "y = (")])
    done = run_cli("bad.ipynb", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "inplace-fix: error: bad.ipynb:cell 2:1: syntax error: '(' was never closed"]
    (tmp_path / "broken.ipynb").write_text("{", encoding="utf-8")
    done = run_cli("broken.ipynb", cwd=tmp_path)
    assert done.returncode == 2 and "broken.ipynb: not a notebook: invalid JSON" in done.stderr
    assert not _leftovers(tmp_path)
