"""`inplace-fix migrate` through the real CLI: the diff, the summary, and nothing lost, ever."""

from __future__ import annotations

import dataclasses

import codecs
import os
import pty
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import inplace_fix.transforms.api
from inplace_fix.cli import main
from inplace_fix.transforms.base import FixSafety
from inplace_fix.transforms.registry import ALL_RULES
from static_helpers import NET

ENTRY = "import sys; from inplace_fix.cli import main; sys.exit(main(prog_name='inplace-fix'))"


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def migrate(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(root)
    return CliRunner().invoke(main, ["migrate", *args], catch_exceptions=False)


def fixed(data: bytes) -> bytes:
    """NET's two IPF004 rewrites (both safe): the flags are dropped, nothing else moves."""
    return data.replace(b"nn.ReLU(inplace=True)", b"nn.ReLU()").replace(b"F.relu(x, inplace=True)", b"F.relu(x)")


def assert_fixed(text: str) -> None:
    assert text.encode() == fixed(NET.encode())


def test_dry_run_prints_a_diff_and_a_summary_and_writes_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    (tmp_path / "clean.py").write_text("x = 1\n")
    result = migrate(tmp_path, monkeypatch, ".")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a/m.py\n+++ b/m.py\n@@ ")
    assert "\n-net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))\n" in result.stdout
    assert "\n+net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\n" in result.stdout
    assert "\n-    x = F.relu(x, inplace=True)\n+    x = F.relu(x)\n" in result.stdout
    assert "\x1b[" not in result.stdout  # no color off a terminal
    assert "2 files scanned, 1 file would change, 2 fixes (IPF004 x2)." in result.stderr
    assert "Dry run: nothing was written" in result.stderr
    assert (tmp_path / "m.py").read_text() == NET


def test_the_dry_run_diff_applies_with_git_apply(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    patch = migrate(tmp_path, monkeypatch, ".").stdout
    (tmp_path / "changes.patch").write_text(patch)
    subprocess.run(["git", "apply", "changes.patch"], cwd=tmp_path, check=True)
    assert_fixed((tmp_path / "m.py").read_text())


def test_diff_is_colored_only_when_color_is_on(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[32m+net" in migrate(tmp_path, monkeypatch, ".").stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in migrate(tmp_path, monkeypatch, ".").stdout


def test_apply_writes_then_a_second_run_changes_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    (tmp_path / "clean.py").write_text("x = 1\n")
    first = migrate(tmp_path, monkeypatch, ".", "--apply")
    assert first.exit_code == 0
    assert first.stdout == "rewrote m.py (IPF004 x2)\n"
    assert "2 files scanned, 1 file changed, 2 fixes (IPF004 x2)." in first.stderr
    assert "Dry run" not in first.stderr
    after = (tmp_path / "m.py").read_bytes()
    assert_fixed(after.decode())
    compile(after, "m.py", "exec")
    second = migrate(tmp_path, monkeypatch, ".", "--apply")
    assert (second.exit_code, second.stdout) == (0, "")
    assert "2 files scanned, 0 files changed." in second.stderr
    assert (tmp_path / "m.py").read_bytes() == after
    assert migrate(tmp_path, monkeypatch, ".").exit_code == 0  # and a dry run agrees


def test_untouched_files_are_not_rewritten_at_all(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    clean = tmp_path / "clean.py"
    clean.write_bytes(b"x = 1\r\ny = [1,\n 2]   \n")
    before = clean.stat()
    migrate(tmp_path, monkeypatch, ".", "--apply")
    after = clean.stat()
    assert clean.read_bytes() == b"x = 1\r\ny = [1,\n 2]   \n"
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("crlf", NET.replace("\n", "\r\n").encode()),
        ("mixed", NET.replace("\n", "\r\n", 4).encode() + b"y = 1 \r\nz = 2\n"),
        ("bom", codecs.BOM_UTF8 + ("# café\n" + NET).encode()),
        ("latin1", ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + NET + "s = 'd\xe9j\xe0'\n").encode("latin-1")),
        ("no_trailing_newline", NET.rstrip("\n").encode()),
    ],
)
def test_rewrites_keep_encoding_line_endings_and_trailing_newline(tmp_path, monkeypatch, name, data) -> None:
    path = tmp_path / f"{name}.py"
    path.write_bytes(data)
    result = migrate(tmp_path, monkeypatch, ".", "--apply")
    assert result.exit_code == 0, result.stderr
    new = path.read_bytes()
    # exactly the two edits: BOM, cookie, every other byte and every line ending are untouched
    assert new == fixed(data) != data
    compile(new, path.name, "exec")


def test_file_mode_is_kept(tmp_path, monkeypatch) -> None:
    path = tmp_path / "tool.py"
    path.write_text("#!/usr/bin/env python\n" + NET)
    os.chmod(path, 0o755)
    assert migrate(tmp_path, monkeypatch, ".", "--apply").exit_code == 0
    assert "inplace=True" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    # no temp file left behind (the project's state folder holds only its lock: no journal either)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".inplace-fix", "tool.py"]
    assert not any((tmp_path / ".inplace-fix" / "journal").iterdir())


def test_unreadable_unparsable_files_are_listed_left_alone_and_the_run_goes_on(tmp_path, monkeypatch) -> None:
    (tmp_path / "a_bad.py").write_text("def broken(:\n" + NET)
    (tmp_path / "b_dangling.py").symlink_to(tmp_path / "gone.py")
    (tmp_path / "c_undecodable.py").write_bytes(b"# coding: utf-8\ns = '\xff'\n" + NET.encode())
    (tmp_path / "z_good.py").write_text(NET)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.exists()}
    result = migrate(tmp_path, monkeypatch, ".", "--apply")
    assert result.exit_code == 2
    assert re.search(r"^a_bad\.py: error: cannot parse: .*line 1", result.stderr, re.M)
    assert re.search(r"^b_dangling\.py: error: cannot read: No such file", result.stderr, re.M)
    assert re.search(r"^c_undecodable\.py: error: cannot decode as utf-8", result.stderr, re.M)
    assert "3 files could not be processed and were left alone" in result.stderr
    assert "Traceback" not in result.stderr
    assert_fixed((tmp_path / "z_good.py").read_text())  # the run went on
    for name in ("a_bad.py", "c_undecodable.py"):
        assert (tmp_path / name).read_bytes() == before[name]


def test_a_rewrite_that_would_not_compile_is_a_tool_error_and_not_written(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    (tmp_path / "n.py").write_text(NET)
    real = inplace_fix.transforms.api.rewrite

    def broken(source, targets):
        outcome = real(source, targets)
        return type(outcome)(source=outcome.source + ("def (:\n" if "# break" in source else ""),
                             applied=outcome.applied)

    (tmp_path / "m.py").write_text(NET + "# break\n")
    monkeypatch.setattr(inplace_fix.transforms.api, "rewrite", broken)
    result = migrate(tmp_path, monkeypatch, ".", "--apply", "--jobs", "1")
    assert result.exit_code == 2
    assert re.search(r"^m\.py: error: internal error: the rewritten file would not compile .*; file left alone",
                     result.stderr, re.M)
    assert (tmp_path / "m.py").read_text() == NET + "# break\n"
    assert_fixed((tmp_path / "n.py").read_text())


def test_a_changed_statement_that_would_not_compile_is_caught_without_compiling_the_file(tmp_path, monkeypatch) -> None:
    """Only the changed top-level statements are compiled: a broken one is still found."""
    (tmp_path / "m.py").write_text(NET + "\n\ndef later():\n    nonlocal_name = 1\n")
    real = inplace_fix.transforms.api.rewrite
    broken_statement = "def later():\n    nonlocal nowhere\n"  # a scope error: only the compiler sees it

    def broken(source, targets):
        outcome = real(source, targets)
        assert outcome.statements, "the rewrite reports the statements it changed"
        return dataclasses.replace(outcome, source=outcome.source.replace("    nonlocal_name = 1\n", "    nonlocal nowhere\n"),
                                   statements=outcome.statements + (broken_statement,))

    monkeypatch.setattr(inplace_fix.transforms.api, "rewrite", broken)
    result = migrate(tmp_path, monkeypatch, ".", "--apply", "--jobs", "1")
    assert result.exit_code == 2
    assert "the rewritten file would not compile (no binding for nonlocal 'nowhere' found" in result.stderr
    assert "nonlocal_name = 1" in (tmp_path / "m.py").read_text()


def test_ignore_comments_are_neither_reported_nor_rewritten(tmp_path, monkeypatch) -> None:
    suppressed = "nn.ReLU(inplace=True))  # inplace-fix: ignore[IPF004]"
    (tmp_path / "m.py").write_text(NET.replace("nn.ReLU(inplace=True))", suppressed))
    result = migrate(tmp_path, monkeypatch, ".", "--apply")
    assert result.exit_code == 0
    assert "1 fix (IPF004 x1)" in result.stderr
    text = (tmp_path / "m.py").read_text()
    assert suppressed + "\n" in text and "F.relu(x, inplace=True)" not in text


def _example(predicate) -> tuple[str, object]:
    for rule in ALL_RULES:
        for example in rule.invalid:
            if predicate(rule, example):
                return rule.code, example
    pytest.skip("no rule declares such an example")


def test_unsafe_fixes_are_skipped_unless_asked_for(tmp_path, monkeypatch) -> None:
    code, example = _example(lambda r, e: e.unsafe and e.after is not None and r.safety == FixSafety.UNSAFE)
    path = tmp_path / "u.py"
    path.write_text(example.before)
    dry = migrate(tmp_path, monkeypatch, ".", "--select", code, "--apply")
    assert dry.exit_code == 1
    assert re.search(rf"^1 unsafe fix skipped \({code} x1\)", dry.stderr, re.M)
    assert re.search(rf"^  u\.py:\d+:\d+: {code} ", dry.stderr, re.M)
    assert path.read_text() == example.before
    applied = migrate(tmp_path, monkeypatch, ".", "--select", code, "--apply", "--unsafe-fixes")
    assert applied.exit_code == 0
    assert path.read_text() == example.after


def test_findings_with_no_automatic_fix_are_listed_and_exit_1(tmp_path, monkeypatch) -> None:
    code, example = _example(lambda r, e: e.after is None)
    path = tmp_path / "d.py"
    path.write_text(example.before)
    result = migrate(tmp_path, monkeypatch, ".", "--select", code, "--apply", "--unsafe-fixes",
                     "--min-confidence", "low")
    assert result.exit_code == 1
    assert re.search(rf"finding.? with no automatic fix \({code} x\d+\)", result.stderr)
    assert re.search(rf"^  d\.py:\d+:\d+: {code} ", result.stderr, re.M)
    assert path.read_text() == example.before


def test_bad_select_writes_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    result = migrate(tmp_path, monkeypatch, ".", "--apply", "--select", "IPF04")
    assert result.exit_code == 2 and "unknown rule code 'IPF04'" in result.stderr
    assert (tmp_path / "m.py").read_text() == NET


def test_progress_bar_on_a_terminal_for_long_runs_only(tmp_path) -> None:
    for i in range(120):
        (tmp_path / f"m{i:03d}.py").write_text(NET if i % 10 == 0 else "x = 1\n")

    def stderr_of(args: list[str], tty: bool) -> str:
        if not tty:
            return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=tmp_path, capture_output=True,
                                  text=True).stderr
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        proc = subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=follower, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait()
        os.close(leader)
        return b"".join(chunks).decode(errors="replace")

    assert "migrate" in stderr_of(["migrate", "."], tty=True) and "100%" in stderr_of(["migrate", "."], tty=True)
    assert "100%" not in stderr_of(["migrate", "."], tty=False)
    assert "100%" not in stderr_of(["migrate", "m000.py"], tty=True)  # short run: no bar


def test_a_loop_with_no_finding_next_to_a_rewrite_is_left_as_it_is(tmp_path, monkeypatch) -> None:
    source = (
        "import torch.nn as nn\n"
        "\n"
        "\n"
        "def main(steps):\n"
        "    for step in range(steps):\n"
        "        print(step)\n"
        "    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))\n"
    )
    (tmp_path / "m.py").write_text(source)
    result = migrate(tmp_path, monkeypatch, "--apply", "--unsafe-fixes", "m.py")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.py").read_text() == source.replace("nn.ReLU(inplace=True)", "nn.ReLU()")


def test_a_declined_rewrite_says_why_and_leaves_the_file(tmp_path, monkeypatch) -> None:
    """The caller of a None-returning helper sees its in-place update: `--unsafe-fixes` does not
    rebind it, and the summary says why instead of only repeating the rule's advice."""
    source = ("import torch\n\n\n"
              "def _add_shortcut(x: torch.Tensor, shortcut: torch.Tensor):\n"
              "    x.add_(shortcut)\n\n\n"
              "def _add_pos(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:\n"
              "    # NOTE leave as '+=' (the caller's tensor is updated)\n"
              "    x += pos\n"
              "    return x\n")
    (tmp_path / "m.py").write_text(source)
    result = migrate(tmp_path, monkeypatch, ".", "--unsafe-fixes", "--apply")
    assert (tmp_path / "m.py").read_text() == source
    assert ("      not rewritten: `x` is a parameter and `_add_shortcut` returns None: the caller sees the "
            "in-place change; a rebinding would drop it") in result.stderr
    assert "      not rewritten: the author's comment asks to keep the operation as written: " \
           "`# NOTE leave as '+=' (the caller's tensor is updated)`" in result.stderr
