"""`pip install inplace-fix` brings no torch: scan and migrate work, and the diagnosis finds one.

A clean virtual environment (no system site-packages) gets the project's wheel with its
dependencies from a wheel folder only (`--no-index`), so the install fails if torch is
still a dependency. The diagnosis then runs the script with an interpreter that has
torch: this one, else `python` on PATH, else `--python`; with none, one line, exit 2.
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inplace_fix.errors import InputError
from inplace_fix.request import pick_python

REPO = Path(__file__).resolve().parents[2]

BUGGY = """\
import torch

w = torch.randn(4, requires_grad=True)
h = torch.sigmoid(w)
h += 1
h.sum().backward()
"""


@pytest.fixture(scope="module")
def light_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding inplace-fix, libcst, click and pyyaml, installed from wheels only: no torch."""
    base = tmp_path_factory.mktemp("light")
    source, wheels, env = base / "src", base / "wheels", base / "env"
    source.mkdir()
    for name in ("codemod", "transforms"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("libcst", "click", "pyyaml")]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # the installed versions: pip's cache usually has them; the registry otherwise
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), *pins], check=True, timeout=120,
                   capture_output=True)
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True,
                   timeout=120, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60)
    subprocess.run([*pip, "--python", str(env / "bin" / "python"), "install", "--no-index", "--find-links",
                    str(wheels), "inplace-fix"], check=True, timeout=120, capture_output=True, text=True)
    return env


def _run(env: Path, cwd: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environ["PATH"] = path if path is not None else str(env / "bin")
    return subprocess.run([str(env / "bin" / "inplace-fix"), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_no_torch_is_installed(light_env: Path) -> None:
    probe = subprocess.run([str(light_env / "bin" / "python"), "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr


def test_scan_and_migrate_work_without_torch(light_env: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(BUGGY)
    scan = _run(light_env, tmp_path, "scan", "train.py")
    assert scan.returncode == 1 and "IPF001" in scan.stdout, scan.stderr
    migrate = _run(light_env, tmp_path, "migrate", "train.py", "--apply", "--unsafe-fixes")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "h = h + 1" in (tmp_path / "train.py").read_text()


def test_diagnosis_without_any_torch_says_what_to_install(light_env: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(BUGGY)
    result = _run(light_env, tmp_path, "train.py")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("inplace-fix: error: no interpreter with torch") and "pip install torch" in line
    assert "Traceback" not in result.stderr


def test_diagnosis_uses_python_on_path_or_the_python_option(light_env: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(BUGGY)
    host = Path(sys.executable)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(host)  # the "active environment": a python on PATH that has torch
    on_path = _run(light_env, tmp_path, "train.py", "--json", path=f"{shim}{os.pathsep}{light_env / 'bin'}")
    assert on_path.returncode == 1 and '"IPF001"' in on_path.stdout, on_path.stderr[-2000:]
    chosen = _run(light_env, tmp_path, "train.py", "--python", str(host))
    assert chosen.returncode == 1 and "h += 1" in chosen.stdout, chosen.stderr[-2000:]


def test_a_chosen_interpreter_is_kept(light_env: Path, tmp_path: Path) -> None:
    """--python is the user's word: one without torch is an error, not swapped for the one on PATH."""
    (tmp_path / "train.py").write_text(BUGGY)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    light = str(light_env / "bin" / "python")
    result = _run(light_env, tmp_path, "train.py", "--python", light, path=f"{shim}{os.pathsep}{light_env / 'bin'}")
    assert result.returncode == 2 and result.stderr.strip() == (
        f"inplace-fix: error: {light} has no torch installed (use --python to pick the interpreter that runs "
        "your script)")
    with pytest.raises(InputError, match="no such executable"):
        pick_python(str(tmp_path / "missing" / "python"), str(tmp_path))
