"""`scan -` / `migrate -` (stdin, for editors), `--stdin-filename`, `--force-exclude`, `--statistics`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from static_helpers import NET

LEAF = "import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad\n"
LEAF_FIXED = "import torch\n\nw = torch.randn(3, requires_grad=True)\nwith torch.no_grad():\n    w -= 0.1 * w.grad\n"
EXCLUDING = '[tool.inplace-fix]\nexclude = ["gen"]\n'


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes | None = None):
    monkeypatch.chdir(root)
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_scan_stdin_reports_under_the_given_name(tmp_path, monkeypatch) -> None:
    result = run(tmp_path, monkeypatch, "scan", "-", "--stdin-filename", "pkg/net.py", stdin=NET.encode())
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("pkg/net.py:4:38: IPF004 ")
    assert not (tmp_path / "pkg").exists()  # nothing written


def test_scan_stdin_without_a_name_is_shown_as_dash(tmp_path, monkeypatch) -> None:
    result = run(tmp_path, monkeypatch, "scan", "-", stdin=LEAF.encode())
    assert result.exit_code == 1 and result.stdout == "-:4:1: IPF008 " + result.stdout.split(" ", 2)[2]


def test_migrate_stdin_prints_the_rewritten_source_and_writes_nothing(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(LEAF)
    result = run(tmp_path, monkeypatch, "migrate", "-", "--stdin-filename", "m.py", stdin=LEAF.encode())
    assert result.exit_code == 0
    assert result.stdout == LEAF_FIXED
    assert (tmp_path / "m.py").read_text() == LEAF
    assert "1 fix (IPF008 x1)" in result.stderr


def test_migrate_stdin_keeps_crlf_and_returns_clean_input_unchanged(tmp_path, monkeypatch) -> None:
    crlf = LEAF.replace("\n", "\r\n").encode()
    assert run(tmp_path, monkeypatch, "migrate", "-", stdin=crlf).stdout_bytes == LEAF_FIXED.replace("\n", "\r\n").encode()
    clean = b"x = 1  # nothing to do\n"
    result = run(tmp_path, monkeypatch, "migrate", "-", stdin=clean)
    assert result.exit_code == 0 and result.stdout_bytes == clean


def test_migrate_stdin_leaves_unsafe_fixes_and_exits_1(tmp_path, monkeypatch) -> None:
    source = b"import torch.nn as nn\n\nact = nn.ReLU(inplace=True)\n"
    result = run(tmp_path, monkeypatch, "migrate", "-", stdin=source)
    assert result.exit_code == 1 and result.stdout_bytes == source
    assert run(tmp_path, monkeypatch, "migrate", "-", "--unsafe-fixes", stdin=source).stdout_bytes == \
        b"import torch.nn as nn\n\nact = nn.ReLU()\n"


def test_stdin_filename_picks_the_config_of_where_the_file_would_be(tmp_path, monkeypatch) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text('[tool.inplace-fix]\nignore = ["IPF008"]\n')
    assert run(tmp_path, monkeypatch, "scan", "-", "--stdin-filename", "proj/m.py", stdin=LEAF.encode()).exit_code == 0
    assert run(tmp_path, monkeypatch, "scan", "-", "--stdin-filename", "m.py", stdin=LEAF.encode()).exit_code == 1


def test_stdin_that_does_not_parse_is_exit_2_and_migrate_gives_it_back(tmp_path, monkeypatch) -> None:
    broken = b"def (:\n"
    scan = run(tmp_path, monkeypatch, "scan", "-", "--stdin-filename", "x.py", stdin=broken)
    assert scan.exit_code == 2 and "x.py: error: cannot parse" in scan.stderr
    migrate = run(tmp_path, monkeypatch, "migrate", "-", stdin=broken)
    assert migrate.exit_code == 2 and migrate.stdout_bytes == broken


@pytest.mark.parametrize("args", [["scan", "-", "a.py"], ["scan", "a.py", "--stdin-filename", "a.py"],
                                  ["migrate", "-", "--apply"], ["scan", ".", "--statistics", "--format", "sarif"]])
def test_bad_stdin_and_statistics_use_is_one_line_and_exit_2(tmp_path, monkeypatch, args) -> None:
    (tmp_path / "a.py").write_text(LEAF)
    result = run(tmp_path, monkeypatch, *args, stdin=b"")
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")
    assert (tmp_path / "a.py").read_text() == LEAF


def test_force_exclude_skips_files_named_explicitly(tmp_path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text(EXCLUDING)
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "b.py").write_text(LEAF)
    (tmp_path / "a.py").write_text(LEAF)
    named = run(tmp_path, monkeypatch, "scan", "a.py", "gen/b.py")
    assert {line.split(":")[0] for line in named.stdout.splitlines()} == {"a.py", "gen/b.py"}
    forced = run(tmp_path, monkeypatch, "scan", "--force-exclude", "a.py", "gen/b.py")
    assert {line.split(":")[0] for line in forced.stdout.splitlines()} == {"a.py"}
    assert run(tmp_path, monkeypatch, "migrate", "--apply", "--force-exclude", "gen/b.py").exit_code == 0
    assert (tmp_path / "gen" / "b.py").read_text() == LEAF
    stdin = run(tmp_path, monkeypatch, "scan", "-", "--force-exclude", "--stdin-filename", "gen/b.py", stdin=LEAF.encode())
    assert stdin.exit_code == 0 and stdin.stdout == ""
    excluded = run(tmp_path, monkeypatch, "migrate", "-", "--force-exclude", "--stdin-filename", "gen/b.py",
                   stdin=LEAF.encode())
    assert excluded.exit_code == 0 and excluded.stdout == LEAF


def test_statistics_count_findings_per_rule(tmp_path, monkeypatch) -> None:
    (tmp_path / "a.py").write_text(NET + "\n\n" + LEAF)
    (tmp_path / "b.py").write_text(NET)
    text = run(tmp_path, monkeypatch, "scan", ".", "--statistics")
    assert text.exit_code == 1
    assert text.stdout.splitlines() == ["4  IPF004  [*] inplace-flag", "1  IPF008  [*] leaf-inplace"]
    rows = json.loads(run(tmp_path, monkeypatch, "scan", ".", "--statistics", "--format", "json").stdout)
    assert [(r["code"], r["count"]) for r in rows] == [("IPF004", 4), ("IPF008", 1)]
    migrate = run(tmp_path, monkeypatch, "migrate", ".", "--statistics")
    assert migrate.exit_code == 1 and "---" not in migrate.stdout  # the table instead of the diff
    table = {line.split()[0]: line.split()[2:] for line in migrate.stdout.splitlines()[1:]}
    assert table == {"IPF004": ["4", "4", "0", "0"], "IPF008": ["1", "1", "0", "0"]}
