"""Installed the way users install it, under its private import name only.

A clean virtual environment gets `pip install .`: site-packages holds `inplace_fix`
and nothing called `codemod` or `transforms` (both names belong to other projects
on the package registry, and `import transforms as T` is common in vision code).
Then a project that has its own `transforms.py` and `codemod/` package, in an
environment where another `transforms` distribution is installed too, goes through
scan, migrate, diagnose and --apply, and its script still imports its own modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The registry's `transforms` 0.2.1 fails on import under Python 3 (`No module named
# 'sgmllib'`); this stand-in fails the same way, so no download is needed.
REGISTRY_TRANSFORMS = "raise ModuleNotFoundError(\"No module named 'sgmllib'\", name='sgmllib')\n"

SCRIPT = """\
import sys

import torch

import codemod
import transforms as T

print("uses:", T.MARK, codemod.MARK)
print("ours:", sorted(m for m in sys.modules if m.split(".")[0] in ("inplace_fix", "codemod", "transforms")
                      and not getattr(sys.modules[m], "__file__", "").startswith(sys.argv[1])))
w = torch.randn(4, requires_grad=True)
h = torch.sigmoid(w)
h += 1
h.sum().backward()
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with `pip install .` of a copy of this repository (torch from the system)."""
    base = tmp_path_factory.mktemp("venv")
    source = base / "src"
    source.mkdir()
    for name in ("codemod", "transforms"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    env_dir = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    # the build backend comes from the registry, as for any `pip install .`; the dependencies are the system's
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source)], check=True,
                   timeout=600, capture_output=True)
    return env_dir


def _site_packages(env_dir: Path) -> Path:
    return next((env_dir / "lib").glob("python3*/site-packages"))


def test_pip_install_leaves_only_the_private_name(venv: Path) -> None:
    top = {p.name for p in _site_packages(venv).iterdir()}
    assert "inplace_fix" in top
    assert not {"codemod", "transforms"} & top, sorted(top)
    python = venv / "bin" / "python"
    located = subprocess.run([str(python), "-c", "import inplace_fix.transforms.api as a; print(a.__file__)"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    assert located.startswith(str(venv)), located
    for command in ([str(python), "-m", "inplace_fix", "--help"], [str(venv / "bin" / "inplace-fix"), "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "inplace-fix SCRIPT" in result.stdout, result.stderr


def _project(folder: Path) -> Path:
    (folder / "codemod").mkdir(parents=True)
    (folder / "codemod" / "__init__.py").write_text('MARK = "its own codemod"\n')
    (folder / "transforms.py").write_text('MARK = "its own transforms"\n')
    (folder / "train.py").write_text(SCRIPT)
    return folder / "train.py"


def test_a_project_with_its_own_codemod_and_transforms(venv: Path, tmp_path: Path) -> None:
    (_site_packages(venv) / "transforms").mkdir()
    (_site_packages(venv) / "transforms" / "__init__.py").write_text(REGISTRY_TRANSFORMS)
    try:
        script = _project(tmp_path / "proj")
        env = {**os.environ, "NO_COLOR": "1"}
        env.pop("PYTHONPATH", None)

        def tool(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(venv / "bin" / "inplace-fix"), *args], cwd=script.parent, env=env,
                                  capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

        scan = tool("scan", ".")
        assert scan.returncode == 1 and "train.py:13:1: IPF001" in scan.stdout, scan.stdout + scan.stderr
        migrate = tool("migrate", "--unsafe-fixes", ".")
        assert migrate.returncode == 1 and "+h = h + 1" in migrate.stdout, migrate.stdout + migrate.stderr
        diagnose = tool("train.py", "--", str(script.parent))
        assert diagnose.returncode == 1, diagnose.stdout + diagnose.stderr
        assert "uses: its own transforms its own codemod" in diagnose.stdout
        assert "ours: []" in diagnose.stdout
        assert "modified here by +=" in diagnose.stdout
        fixed = tool("train.py", "--apply", "--", str(script.parent))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert "h = h + 1\n" in script.read_text()
        assert "Traceback" not in scan.stderr + migrate.stderr + diagnose.stderr + fixed.stderr
    finally:
        shutil.rmtree(_site_packages(venv) / "transforms")
