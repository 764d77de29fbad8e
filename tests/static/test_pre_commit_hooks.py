"""The shipped .pre-commit-hooks.yaml, run by pre-commit itself (`pre-commit try-repo`).

The hook repository is a scratch git repository holding the shipped hooks file (this
checkout may have uncommitted changes, which try-repo would leave out) with one change:
`language: python` becomes `language: system`, so pre-commit does not build a virtualenv
and pip-install the package and its dependencies (torch among them) for each test. Ids,
entries, file types and serial mode are the shipped ones; `inplace-fix` on PATH is a shim
that runs this checkout with the test's interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / ".pre-commit-hooks.yaml"
LEAF = "import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad\n"
UNSAFE = "import torch.nn as nn\n\nact = nn.ReLU(inplace=True)\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
pre_commit = pytest.importorskip("pre_commit")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                    *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    hook_repo = tmp_path / "hooks"
    hook_repo.mkdir()
    shipped = HOOKS.read_text()
    assert shipped.count("language: python") == 2
    (hook_repo / ".pre-commit-hooks.yaml").write_text(shipped.replace("language: python", "language: system"))
    _git(hook_repo, "init", "-q")
    _git(hook_repo, "add", "-A")
    _git(hook_repo, "commit", "-qm", "hooks")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "inplace-fix"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m inplace_fix \"$@\"\n")
    shim.chmod(0o755)
    project = tmp_path / "project"
    (project / "gen").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.inplace-fix]\nexclude = ["gen"]\n')
    (project / "a.py").write_text(LEAF)
    (project / "b.py").write_text(UNSAFE)
    (project / "gen" / "c.py").write_text(LEAF)
    (project / "notes.txt").write_text("w -= 1\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return hook_repo, project, env


def try_repo(hook_repo: Path, project: Path, env: dict[str, str], hook: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--all-files",
                           "--color", "never"], cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_scan_hook_reports_staged_python_files_but_not_excluded_ones(setup) -> None:
    hook_repo, project, env = setup
    result = try_repo(hook_repo, project, env, "inplace-fix-scan")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "a.py:4:1: IPF008" in result.stdout and "b.py:3:7: IPF004" in result.stdout
    assert "gen/c.py" not in result.stdout  # named by pre-commit, excluded by the config
    assert "notes.txt" not in result.stdout


def test_migrate_hook_applies_safe_fixes_only(setup) -> None:
    hook_repo, project, env = setup
    result = try_repo(hook_repo, project, env, "inplace-fix-migrate")
    assert result.returncode == 1, result.stdout + result.stderr  # a file changed; b.py's unsafe fix is left
    assert "files were modified by this hook" in result.stdout
    assert "with torch.no_grad():" in (project / "a.py").read_text()
    assert (project / "b.py").read_text() == UNSAFE
    assert (project / "gen" / "c.py").read_text() == LEAF
    (project / "b.py").unlink()
    _git(project, "add", "-A")
    again = try_repo(hook_repo, project, env, "inplace-fix-migrate")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Passed" in again.stdout
