"""Files that are not what they seem: symlinks out of the project, symlink loops, a git
repository that configures a program to run, and a very large source file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fault_project import run_cli

FIXABLE = '''\
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.ReLU(inplace=True), nn.Linear(16, 2))
x = torch.randn(8, 5)
for step in range(3):
    loss = model(x).pow(2).mean()
    print(f"step {step} loss {loss.item()!r}")
    loss.backward()
'''
STATIC = "import torch\n\n\ndef f(x):\n    y = torch.relu(x)\n    y += 1\n    return y\n"


def _link_out(tmp_path: Path) -> tuple[Path, Path]:
    """repo/link.py -> ../outside/ext.py (and a plain file in repo, so migrate has work)."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    ext = tmp_path / "outside" / "ext.py"
    ext.write_text(FIXABLE + STATIC, encoding="utf-8")
    (tmp_path / "repo" / "link.py").symlink_to("../outside/ext.py")
    (tmp_path / "repo" / "own.py").write_text(STATIC, encoding="utf-8")
    return tmp_path / "repo" / "link.py", ext


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, \
        f"exit {result.returncode}, stderr:\n{result.stderr[-1500:]}"
    return lines[0]


def test_migrate_apply_never_rewrites_a_file_through_a_symlink_out_of_the_tree(tmp_path: Path) -> None:
    link, ext = _link_out(tmp_path)
    before = ext.read_bytes()
    result = run_cli("migrate", "repo", "--apply", cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert ext.read_bytes() == before and link.is_symlink()
    assert (tmp_path / "repo" / "own.py").read_text(encoding="utf-8") != STATIC  # the real file was fixed


def test_fix_apply_never_rewrites_a_file_through_a_symlink_out_of_the_tree(tmp_path: Path) -> None:
    link, ext = _link_out(tmp_path)
    before = ext.read_bytes()
    result = run_cli("repo/link.py", "--apply", cwd=tmp_path, timeout=180)
    assert "Traceback (most recent call last)" not in result.stderr.split("step 0")[0], result.stderr[-1500:]
    assert result.returncode != 0, result.stdout[-1500:]  # found, not fixed: the file is not the user's to edit
    assert ext.read_bytes() == before and link.is_symlink()


@pytest.mark.parametrize("command", [(), ("--apply",), ("scan",), ("migrate",), ("migrate", "--apply"), ("restore",)])
def test_a_symlink_loop_on_the_command_line_is_a_one_line_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "a.py").symlink_to("b.py")
    (tmp_path / "b.py").symlink_to("a.py")
    args = [*command[:1], "a.py", *command[1:]] if command[:1] in (("scan",), ("migrate",), ("restore",)) else ["a.py", *command]
    line = _one_line_error(run_cli(*args, cwd=tmp_path))
    assert "a.py" in line


def test_scan_never_runs_the_repository_fsmonitor(tmp_path: Path) -> None:
    repo, marker = tmp_path / "repo", tmp_path / "fsmonitor-ran"
    repo.mkdir()
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    (repo / "model.py").write_text(STATIC, encoding="utf-8")
    git = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    for args in (["init", "-q"], ["add", "model.py"], ["config", "core.fsmonitor", str(hook)]):
        subprocess.run(["git", *args], cwd=repo, env=git, check=True, capture_output=True)
    subprocess.run(["git", "status", "--porcelain"], cwd=repo, env=git, capture_output=True)
    if not marker.exists():
        pytest.skip("this git does not run core.fsmonitor")
    marker.unlink()
    for command in (["scan", "repo"], ["scan", "repo/model.py"], ["migrate", "repo"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 1 and "model.py" in result.stdout, result.stdout + result.stderr
        assert not marker.exists(), f"`inplace-fix {' '.join(command)}` ran the repository's fsmonitor"


def test_a_1_mb_file_is_scanned_completely(tmp_path: Path) -> None:
    block = "def f_{0}(x):\n    y = torch.relu(x)\n    y += 1\n    return y\n\n\n"
    parts, size = ["import torch\n\n\n"], 0
    while size < 1_000_000:
        parts.append(block.format(len(parts) - 1))
        size += len(parts[-1])
    count = len(parts) - 1
    (tmp_path / "big.py").write_text("".join(parts), encoding="utf-8")
    assert (tmp_path / "big.py").stat().st_size >= 1_000_000
    result = run_cli("scan", "--format", "json", "big.py", cwd=tmp_path, timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["errors"] == [], result.stderr[-1500:]
    lines = sorted(f["line"] for f in report["findings"] if f["code"] == "IPF001")
    assert lines == [3 + 6 * i + 3 for i in range(count)]
