"""inplace_fix.discovery, .gitignore, .config, .suppressions: the pieces under scan/migrate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from inplace_fix.config import Config, ConfigError, load_config, parse_codes, resolve_rules
from inplace_fix.discovery import discover, is_excluded
from inplace_fix.suppressions import is_suppressed, parse_suppressions
from inplace_fix.transforms.base import Finding

CODES = ("IPF001", "IPF002", "IPF003", "IPF004", "IPF005", "IPF006", "IPF007", "IPF008")


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _found(root: Path, exclude: tuple[str, ...] = (), paths: list[str] | None = None) -> list[str]:
    result = discover(paths or ["."], lambda _p: (root, exclude), cwd=root)
    return [t.display for t in result.targets]


LAYOUT = {
    "pkg/a.py": "", "pkg/b.py": "", "pkg/notes.txt": "", "pkg/gen/out.py": "",
    "venv/pyvenv.cfg": "", "venv/lib/x.py": "", "env2/pyvenv.cfg": "", "env2/y.py": "",
    "build/lib/c.py": "", "dist/d.py": "", "pkg/__pycache__/e.py": "", "node_modules/f.py": "",
    ".tox/g.py": "", "lib/site-packages/h.py": "", "x.eggs/i.py": "", ".eggs/j.py": "",
    "ignored_dir/k.py": "", "top_ignored.py": "", "pkg/keep_me.py": "",
    ".gitignore": "ignored_dir/\n/top_ignored.py\n*_me.py\n!keep_me.py\n",
}
EXPECTED = ["pkg/a.py", "pkg/b.py", "pkg/gen/out.py", "pkg/keep_me.py", "x.eggs/i.py"]


def test_walk_outside_git_honours_gitignore_and_skips_venvs_and_build_folders(tmp_path: Path) -> None:
    _tree(tmp_path, LAYOUT)
    assert _found(tmp_path) == EXPECTED


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_inside_a_git_work_tree_git_lists_the_files(tmp_path: Path) -> None:
    _tree(tmp_path, LAYOUT)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    # a tracked file in an ignored folder is still a file of the project, as git says
    (tmp_path / "ignored_dir" / "tracked.py").write_text("")
    subprocess.run(["git", "-C", str(tmp_path), "add", "-f", "ignored_dir/tracked.py"], check=True)
    assert _found(tmp_path) == sorted(EXPECTED + ["ignored_dir/tracked.py"])


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_discovery_runs_no_program_the_repository_configures(tmp_path: Path) -> None:
    """A repository's `core.fsmonitor` is a program `git ls-files` would run: scan is static."""
    repo, marker = tmp_path / "repo", tmp_path / "ran"
    _tree(repo, {"a.py": "x = 1\n"})
    hook = tmp_path / "monitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "core.fsmonitor", str(hook)], check=True)
    subprocess.run(["git", "-C", str(repo), "ls-files"], check=True, capture_output=True)
    assert marker.exists(), "the configured monitor should run under plain git (else this test proves nothing)"
    marker.unlink()
    assert _found(repo) == ["a.py"]
    assert not marker.exists()


def test_exclude_globs_and_explicit_files(tmp_path: Path) -> None:
    _tree(tmp_path, {"src/a.py": "", "src/gen/b.py": "", "tests/t.py": "", "src/c_pb2.py": ""})
    assert _found(tmp_path, ("tests", "*_pb2.py", "src/gen")) == ["src/a.py"]
    # a file named on the command line is always read, excluded or not
    assert _found(tmp_path, ("tests",), ["tests/t.py"]) == ["tests/t.py"]


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    result = discover(["nope/"], lambda _p: (tmp_path, ()), cwd=tmp_path)
    assert result.targets == () and result.errors == (("nope/", "no such file or directory"),)


@pytest.mark.parametrize(
    ("relative", "pattern", "excluded"),
    [("a/b/c.py", "b", True), ("a/b/c.py", "a/b", True), ("a/b/c.py", "a/*/c.py", True),
     ("a/b/c.py", "b/c.py", False), ("a/bb/c.py", "b", False), ("x/gen/y/z.py", "x/**/z.py", True)],
)
def test_is_excluded(relative: str, pattern: str, excluded: bool) -> None:
    assert is_excluded(relative, [pattern]) is excluded


def test_config_is_read_from_the_nearest_pyproject_with_the_table(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "pyproject.toml": '[tool.inplace-fix]\nselect = ["IPF004"]\nignore = ["ipf001"]\nexclude = ["gen"]\n',
        "sub/pyproject.toml": "[project]\nname = 'sub'\n",
        "sub/x.py": "",
    })
    config = load_config(tmp_path / "sub" / "x.py", CODES)
    assert (config.root, config.select, config.ignore, config.exclude) == (tmp_path, ("IPF004",), ("IPF001",), ("gen",))


@pytest.mark.parametrize(
    ("body", "message"),
    [("selct = ['IPF001']", "unknown key 'selct'"), ("select = ['IPF999']", "unknown rule code 'IPF999'"),
     ("exclude = 3", "exclude must be a list of strings"), ("select = [", "invalid TOML")],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.inplace-fix]\n{body}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, CODES)


def test_codes_accept_commas_repeats_case_and_all() -> None:
    assert parse_codes(["ipf001,IPF004", "IPF001"], CODES, "--select") == ("IPF001", "IPF004")
    assert parse_codes(["ALL"], CODES, "--select") == CODES
    with pytest.raises(ConfigError, match="unknown rule code 'IPF9'"):
        parse_codes(["IPF001,IPF9"], CODES, "--select")


def test_rule_resolution() -> None:
    defaults = tuple(c for c in CODES if c != "IPF005")
    plain = Config(root=Path("."))
    assert resolve_rules(plain, None, (), defaults) == frozenset(defaults)
    assert resolve_rules(plain, ("IPF005",), (), defaults) == frozenset({"IPF005"})
    configured = Config(root=Path("."), select=("IPF001", "IPF004"), ignore=("IPF004",))
    assert resolve_rules(configured, None, (), defaults) == frozenset({"IPF001"})
    assert resolve_rules(configured, None, ("IPF001",), defaults) == frozenset()
    # naming a code on the command line wins over the config's ignore
    assert resolve_rules(configured, ("IPF004",), (), defaults) == frozenset({"IPF004"})


def _finding(line: int, code: str, end_line: int = 0) -> Finding:
    return Finding("f.py", line, 0, code, "m", end_line=end_line)


def test_ignore_comments_only_count_in_real_comments() -> None:
    text = (
        "a.add_(1)  # inplace-fix: ignore\n"
        "b.add_(1)  # inplace-fix: ignore[IPF004, ipf002]\n"
        "c.add_(1)  # inplace-fix: ignore[IPF004]\n"
        "s = '# inplace-fix: ignore'\n"
        "f(x,\n  inplace=True)  # inplace-fix: ignore[IPF004]\n"
    )
    table = parse_suppressions(text)
    assert is_suppressed(_finding(1, "IPF002"), table)
    assert is_suppressed(_finding(2, "IPF002"), table)
    assert not is_suppressed(_finding(3, "IPF002"), table)
    assert not is_suppressed(_finding(4, "IPF002"), table)
    assert is_suppressed(_finding(5, "IPF004", end_line=6), table)
    assert parse_suppressions("x = 1\n") == {}
