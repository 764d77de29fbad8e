"""The layers of pyproject.toml's import contracts hold, and `lint-imports` notices a breach.

`lint-imports` needs the package laid out as it installs (`codemod/` as `inplace_fix`,
`transforms/` as `inplace_fix.transforms`); an editable install maps the folders
without nesting them, so each test lays out a copy the way the wheel does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = {c["name"]: c for c in PYPROJECT["tool"]["importlinter"]["contracts"]}
RUNTIME_ONLY = "The runtime runs in the user's interpreter: the standard library, torch and itself only"
RULES_ONLY = "The rules never import the engine"


def _installed_layout(into: Path) -> Path:
    """The package tree as `pip install .` lays it out, from pyproject's package-dir mapping."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items()):  # parents before children
        shutil.copytree(REPO / folder, into / package.replace(".", "/"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
    shutil.copy(REPO / "pyproject.toml", into / "pyproject.toml")
    return into


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports")
    assert executable, "lint-imports is not installed (pip install -e .[test])"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([executable, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300)


def test_every_contract_is_kept(tmp_path: Path) -> None:
    result = _lint_imports(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("inplace_fix/runtime/frames.py", "from inplace_fix import fileio", RUNTIME_ONLY),
    ("inplace_fix/transforms/base.py", "from inplace_fix.fixer import model", RULES_ONLY),
    ("inplace_fix/render/diff.py", "import click", "Nothing but the command line imports click"),
    ("inplace_fix/report.py", "from inplace_fix.fixer import outcome",
     "Data flows one way: the command line over the API and the renderers, over the engine"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    tree = _installed_layout(tmp_path)
    target = tree / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # added by the test\n", encoding="utf-8")
    result = _lint_imports(tree)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract.split(":")[0] in broken, result.stdout


def _top_level_modules() -> set[str]:
    names = set()
    for entry in (REPO / "codemod").iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.add(f"inplace_fix.{entry.name}")
        elif entry.suffix == ".py":
            names.add(f"inplace_fix.{entry.stem}")
    return names | {"inplace_fix.transforms"}


def test_the_forbidden_lists_name_every_module_of_the_engine() -> None:
    """A new engine module is forbidden to the runtime and the rules as soon as it exists."""
    modules = _top_level_modules()
    assert modules - {"inplace_fix.runtime"} <= set(CONTRACTS[RUNTIME_ONLY]["forbidden_modules"])
    assert modules - {"inplace_fix.transforms"} <= set(CONTRACTS[RULES_ONLY]["forbidden_modules"])
