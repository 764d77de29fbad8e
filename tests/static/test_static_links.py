"""Symlinks on the way in and out: nothing is written outside the project, and a loop or a
dangling link is one line and exit 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.errors import InputError
from inplace_fix.request import Request, check_request
from static_helpers import NET

BROKEN = (  # backward fails: sigmoid saved its output, which mul_ then changes
    "import torch\n"
    "x = torch.ones(3, requires_grad=True)\n"
    "y = x.sigmoid()\n"
    "y.mul_(2)\n"
    "y.sum().backward()\n"
)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def cli(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _git_init(folder: Path) -> None:
    """A git work tree (the project root), or its marker alone where git is missing."""
    if shutil.which("git") is None or subprocess.run(["git", "init", "-q", str(folder)],
                                                     capture_output=True).returncode != 0:
        (folder / ".git").mkdir()


def project(tmp_path: Path, text: str = NET) -> tuple[Path, Path]:
    """repo/ (a git work tree) with link.py -> ../outside/ext.py; returns (repo, ext)."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    _git_init(repo)
    ext = outside / "ext.py"
    ext.write_text(text)
    (repo / "link.py").symlink_to("../outside/ext.py")
    return repo, ext


# -- writing through a symlink ---------------------------------------------------------------

@pytest.mark.parametrize("named", ["repo", "repo/link.py"])
def test_migrate_apply_never_writes_through_a_symlink_leading_out_of_the_project(tmp_path, monkeypatch,
                                                                                named) -> None:
    repo, ext = project(tmp_path)
    (repo / "own.py").write_text(NET)
    result = cli(tmp_path, monkeypatch, "migrate", named, "--apply")
    assert ext.read_text() == NET
    assert (repo / "link.py").is_symlink()
    assert "repo/link.py: error: a symlink leads to " in result.stderr
    assert "outside the project root" in result.stderr and "left alone" in result.stderr
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    if named == "repo":
        assert "nn.ReLU()" in (repo / "own.py").read_text()  # the run went on with the project's own files


def test_migrate_dry_run_shows_no_diff_for_a_file_it_would_not_write(tmp_path, monkeypatch) -> None:
    repo, _ext = project(tmp_path)
    result = cli(tmp_path, monkeypatch, "migrate", "repo")
    assert "+++ b/repo/link.py" not in result.stdout
    assert "repo/link.py: error: a symlink leads to " in result.stderr


def test_scan_still_reads_a_symlink_leading_out_of_the_project(tmp_path, monkeypatch) -> None:
    project(tmp_path)
    result = cli(tmp_path, monkeypatch, "scan", "repo")
    assert result.exit_code == 1
    assert "repo/link.py:4:" in result.stdout


def test_a_symlink_inside_the_project_writes_its_target_and_stays_a_link(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git_init(repo)
    (repo / "real").mkdir()
    (repo / "real" / "model.py").write_text(NET)
    (repo / "links").mkdir()
    (repo / "links" / "model.py").symlink_to("../real/model.py")
    result = cli(tmp_path, monkeypatch, "migrate", "repo/links", "--apply")
    assert result.exit_code == 0, result.stderr
    assert (repo / "links" / "model.py").is_symlink()
    assert "nn.ReLU()" in (repo / "real" / "model.py").read_text()


def test_a_symlinked_folder_leading_out_is_outside_the_project(tmp_path, monkeypatch) -> None:
    repo, ext = project(tmp_path)
    (repo / "link.py").unlink()
    (repo / "vendor").symlink_to("../outside", target_is_directory=True)
    result = cli(tmp_path, monkeypatch, "migrate", "repo/vendor", "--apply")
    assert ext.read_text() == NET
    assert "repo/vendor/ext.py: error: a symlink leads to " in result.stderr
    assert result.exit_code == 2


def test_fix_apply_never_writes_through_a_symlink_leading_out_of_the_project(tmp_path) -> None:
    repo, ext = project(tmp_path, BROKEN)
    proc = subprocess.run([sys.executable, "-m", "inplace_fix", "repo/link.py", "--apply"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert ext.read_text() == BROKEN
    assert (repo / "link.py").is_symlink()
    assert proc.returncode == 1, proc.stderr
    assert "no file was changed" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_the_project_root_of_a_symlinked_script_is_the_folder_it_is_named_in(tmp_path) -> None:
    repo, _ext = project(tmp_path, BROKEN)
    checked = check_request(Request(script="repo/link.py", cwd=str(tmp_path)))
    assert checked.root == str(repo.resolve())


# -- symlink loops and dangling links on the command line ------------------------------------

BAD_LINKS = [("loop", "a symlink loop"), ("dang.py", "a dangling symlink to nowhere.py")]


@pytest.fixture()
def links(tmp_path: Path) -> Path:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dang.py").symlink_to("nowhere.py")
    (tmp_path / "ok.py").write_text(NET)
    return tmp_path


@pytest.mark.parametrize("command", [["scan"], ["migrate"], ["migrate", "--apply"]])
@pytest.mark.parametrize(("name", "reason"), BAD_LINKS)
def test_a_loop_or_a_dangling_link_named_to_scan_or_migrate_is_one_line_and_exit_2(links, monkeypatch, command,
                                                                                   name, reason) -> None:
    result = cli(links, monkeypatch, command[0], "ok.py", name, *command[1:])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {name}: {reason}"
    assert result.stdout == ""
    assert (links / "ok.py").read_text() == NET  # checked before any work: nothing written


@pytest.mark.parametrize(("name", "reason"), BAD_LINKS)
def test_a_loop_or_a_dangling_link_given_to_the_fix_command_is_one_line_and_exit_2(links, monkeypatch, name,
                                                                                   reason) -> None:
    result = cli(links, monkeypatch, name, "--apply")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"inplace-fix: error: {name}: {reason}"


@pytest.mark.parametrize("git", [False, True])
def test_a_loop_inside_a_scanned_folder_is_reported_or_skipped_never_a_traceback(tmp_path, monkeypatch, git) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "ok.py").write_text(NET)
    (tree / "loop.py").symlink_to("loop.py")
    (tree / "sub" / "self").symlink_to(".", target_is_directory=True)  # a folder that contains itself
    (tree / "sub" / "up").symlink_to("..", target_is_directory=True)
    if git:
        if shutil.which("git") is None:
            pytest.skip("git is not available")
        subprocess.run(["git", "init", "-q", str(tree)], check=True, capture_output=True)
    result = cli(tmp_path, monkeypatch, "migrate", "tree", "--apply")
    assert "Traceback" not in result.stderr
    assert "nn.ReLU()" in (tree / "ok.py").read_text()
    if git:  # git lists the link, not a file: skipped like any non-file entry
        assert result.exit_code == 0, result.stderr
    else:
        assert "tree/loop.py: error: cannot read: " in result.stderr and "(a symlink loop)" in result.stderr
        assert result.exit_code == 2


# -- --python given as a symlink -------------------------------------------------------------

def test_python_as_a_symlink_to_this_interpreter_is_accepted(tmp_path) -> None:
    (tmp_path / "train.py").write_text(BROKEN)
    link = tmp_path / "python"
    link.symlink_to(sys.executable)
    checked = check_request(Request(script="train.py", python=str(link), cwd=str(tmp_path)))
    assert checked.python == str(link)


def test_a_virtualenv_python_without_torch_is_refused_before_anything_runs(tmp_path, monkeypatch) -> None:
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    python = env / "bin" / "python"
    if not python.is_symlink() or os.path.realpath(python) != os.path.realpath(sys.executable):
        pytest.skip("this platform's virtualenvs do not link to the base interpreter")
    (tmp_path / "train.py").write_text(BROKEN)
    result = cli(tmp_path, monkeypatch, "train.py", "--python", str(python))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"inplace-fix: error: {python} has no torch installed (use --python to pick "
                                     "the interpreter that runs your script)")
    with pytest.raises(InputError, match="has no torch"):
        check_request(Request(script="train.py", python=str(python), cwd=str(tmp_path)))


# -- hard links ------------------------------------------------------------------------------

def test_migrate_apply_keeps_a_hard_linked_file_one_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "src").mkdir()
    path, other = tmp_path / "src" / "m.py", tmp_path / "m_copy.py"
    path.write_text(NET)
    os.link(path, other)
    inode = path.stat().st_ino
    result = cli(tmp_path, monkeypatch, "migrate", "src", "--apply")
    assert result.exit_code == 0, result.stderr
    assert "nn.ReLU()" in other.read_text()
    assert path.stat().st_ino == inode == other.stat().st_ino
