"""The failing notebook, as a fixture (built by notebook_fixture.write_notebook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from notebook_fixture import write_notebook


@pytest.fixture
def notebook(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "train.ipynb"
    return path, write_notebook(path)
