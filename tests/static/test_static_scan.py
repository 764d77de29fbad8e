"""`inplace-fix scan` through the real CLI: what a user sees, and the exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.transforms.registry import ALL_RULES
from static_helpers import NET

ENTRY = "import sys; from inplace_fix.cli import main; sys.exit(main(prog_name='inplace-fix'))"
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>IPF\d{3}) \S")


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, ["scan", *args], catch_exceptions=False)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def parsed(stdout: str) -> list[tuple[str, int, int, str]]:
    rows = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not a finding line: {line!r}"
        rows.append((match["path"], int(match["line"]), int(match["col"]), match["code"]))
    return rows


def test_findings_are_path_line_col_code_message_sorted_and_exit_1(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"b.py": NET, "a/z.py": NET, "clean.py": "x = 1\n"})
    result = scan(tmp_path, monkeypatch, ".")
    assert result.exit_code == 1
    rows = parsed(result.stdout)
    assert rows == sorted(rows)
    assert ("a/z.py", 4, 38, "IPF004") in rows  # col is 1-based: `nn.ReLU` starts at column 38
    assert ("b.py", 9, 9, "IPF004") in rows
    assert {row[0] for row in rows} == {"a/z.py", "b.py"}
    assert "Found 4 findings (IPF004 x4) in 2 of 3 files scanned." in result.stderr


def test_clean_tree_exits_0(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"clean.py": "total = 0\nfor i in range(3):\n    total += i\n"})
    result = scan(tmp_path, monkeypatch, ".")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "No findings in 1 file scanned." in result.stderr


def test_select_and_ignore(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"m.py": NET})
    assert scan(tmp_path, monkeypatch, ".", "--ignore", "IPF004").exit_code == 0
    result = scan(tmp_path, monkeypatch, ".", "--select", "ipf001,IPF004", "--select", "IPF002")
    assert result.exit_code == 1 and {row[3] for row in parsed(result.stdout)} == {"IPF004"}


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_unknown_rule_code_is_a_usage_error(tmp_path, monkeypatch, option) -> None:
    write(tmp_path, {"m.py": NET})
    result = scan(tmp_path, monkeypatch, ".", option, "IPF004,IPF999")
    assert result.exit_code == 2
    assert "unknown rule code 'IPF999'" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def _opt_in_example() -> tuple[str, str]:
    rule = next(r for r in ALL_RULES if not r.bulk_default)
    return rule.code, rule.invalid[0].before


def test_opt_in_rules_run_only_when_selected(tmp_path, monkeypatch) -> None:
    code, before = _opt_in_example()
    write(tmp_path, {"m.py": before})
    assert code not in {row[3] for row in parsed(scan(tmp_path, monkeypatch, ".").stdout)}
    selected = scan(tmp_path, monkeypatch, ".", "--select", code)
    assert selected.exit_code == 1 and {row[3] for row in parsed(selected.stdout)} == {code}


def test_unknown_option_exits_2_without_traceback(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", ENTRY, "scan", ".", "--no-such-option"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "No such option '--no-such-option'" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_format_is_a_usage_error(tmp_path, monkeypatch) -> None:
    result = scan(tmp_path, monkeypatch, ".", "--format", "xml")
    assert result.exit_code == 2 and "'xml' is not one of" in result.stderr


def test_parse_error_is_listed_exit_2_and_other_files_still_scanned(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"bad.py": "def broken(:\n", "good.py": NET})
    (tmp_path / "latin.py").write_bytes(b"s = '\xe9'\n")  # no cookie: not valid UTF-8
    result = scan(tmp_path, monkeypatch, ".")
    assert result.exit_code == 2
    assert {row[0] for row in parsed(result.stdout)} == {"good.py"}
    assert re.search(r"^bad\.py: error: cannot parse: .*\(line 1", result.stderr, re.M)
    assert re.search(r"^latin\.py: error: cannot decode as utf-8", result.stderr, re.M)
    assert "Traceback" not in result.stderr


def test_missing_path_is_reported_and_the_rest_scanned(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"good.py": NET})
    result = scan(tmp_path, monkeypatch, "good.py", "missing/")
    assert result.exit_code == 2
    assert "missing/: error: no such file or directory" in result.stderr
    assert len(parsed(result.stdout)) == 2


def test_ignore_comments_suppress_by_code(tmp_path, monkeypatch) -> None:
    source = NET.replace("nn.ReLU(inplace=True))", "nn.ReLU(inplace=True))  # inplace-fix: ignore[IPF001,ipf004]")
    source = source.replace("x, inplace=True)\n", "x, inplace=True)  # inplace-fix: ignore[IPF001]\n")
    write(tmp_path, {"m.py": source})
    result = scan(tmp_path, monkeypatch, ".")
    assert parsed(result.stdout) == [("m.py", 9, 9, "IPF004")]
    assert "1 suppressed by ignore comments" in result.stderr
    write(tmp_path, {"m.py": source.replace("# inplace-fix: ignore[IPF001]", "# inplace-fix: ignore")})
    result = scan(tmp_path, monkeypatch, ".")
    assert (result.exit_code, result.stdout) == (0, "")


def test_gitignore_venvs_and_build_folders_are_skipped(tmp_path, monkeypatch) -> None:
    write(tmp_path, {
        "src/m.py": NET, "generated/g.py": NET, ".gitignore": "generated/\n",
        ".venv/pyvenv.cfg": "home = /usr\n", ".venv/lib/python3.11/site-packages/torch/x.py": NET,
        "myenv/pyvenv.cfg": "", "myenv/y.py": NET, "build/lib/m.py": NET, "dist/m.py": NET,
        "node_modules/n.py": NET, ".tox/t.py": NET, "src/__pycache__/c.py": NET,
    })
    assert {row[0] for row in parsed(scan(tmp_path, monkeypatch, ".").stdout)} == {"src/m.py"}
    # a file named explicitly is read even where a folder walk would skip it
    assert {row[0] for row in parsed(scan(tmp_path, monkeypatch, "generated/g.py").stdout)} == {"generated/g.py"}


def test_inside_a_git_work_tree_untracked_ignored_files_are_skipped(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"tracked.py": NET, "new.py": NET, "scratch/s.py": NET, ".gitignore": "scratch/\n"})
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "tracked.py"], cwd=tmp_path, check=True)
    (tmp_path / "deleted.py").write_text(NET)
    subprocess.run(["git", "add", "deleted.py"], cwd=tmp_path, check=True)
    (tmp_path / "deleted.py").unlink()
    assert {row[0] for row in parsed(scan(tmp_path, monkeypatch, ".").stdout)} == {"new.py", "tracked.py"}


def test_config_select_ignore_exclude(tmp_path, monkeypatch) -> None:
    code, before = _opt_in_example()
    write(tmp_path, {"pkg/m.py": NET + before, "pkg/gen/g.py": NET, "other.py": NET})
    write(tmp_path, {"pyproject.toml": f'[tool.inplace-fix]\nselect = ["IPF004", "{code}"]\nexclude = ["gen", "other.py"]\n'})
    rows = parsed(scan(tmp_path, monkeypatch, ".").stdout)
    assert {row[0] for row in rows} == {"pkg/m.py"} and {row[3] for row in rows} == {"IPF004", code}
    write(tmp_path, {"pyproject.toml": '[tool.inplace-fix]\nignore = ["IPF004"]\n'})
    assert scan(tmp_path, monkeypatch, "pkg").exit_code == 0
    # the config applies when scanning from a sub-folder too
    monkeypatch.chdir(tmp_path / "pkg")
    assert CliRunner().invoke(main, ["scan", "."]).exit_code == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [('selct = ["IPF004"]', "unknown key 'selct' in [tool.inplace-fix]"),
     ('select = ["IPF404"]', "unknown rule code 'IPF404'")],
)
def test_config_errors_exit_2_before_any_work(tmp_path, monkeypatch, table, message) -> None:
    write(tmp_path, {"m.py": NET, "pyproject.toml": f"[tool.inplace-fix]\n{table}\n"})
    before = (tmp_path / "m.py").read_bytes()
    for command in (["scan", "."], ["migrate", ".", "--apply"]):
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and message in result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
    assert (tmp_path / "m.py").read_bytes() == before


def test_paths_relative_to_cwd_when_under_it_absolute_otherwise(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"proj/m.py": NET, "elsewhere/n.py": NET})
    monkeypatch.chdir(tmp_path / "proj")
    result = CliRunner().invoke(main, ["scan", ".", str(tmp_path / "elsewhere")])
    paths = {row[0] for row in parsed(result.stdout)}
    assert paths == {"m.py", (tmp_path / "elsewhere" / "n.py").as_posix()}


# --- formats -------------------------------------------------------------------------------------

def test_json_format(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"m.py": NET, "bad.py": "def (:\n"})
    result = scan(tmp_path, monkeypatch, ".", "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["tool"] == "inplace-fix"
    first = report["findings"][0]
    assert (first["path"], first["line"], first["col"], first["code"]) == ("m.py", 4, 37, "IPF004")  # 0-based col
    assert {"message", "confidence", "fixable", "safety", "end_line", "end_col"} <= set(first)
    assert report["errors"][0]["path"] == "bad.py" and report["errors"][0]["reason"].startswith("cannot parse")
    assert report["summary"] == {"files_scanned": 2, "findings": 2, "by_rule": {"IPF004": 2}, "errors": 1}


def test_github_format(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"m.py": NET, "bad.py": "def (:\n"})
    lines = scan(tmp_path, monkeypatch, ".", "--format", "github").stdout.splitlines()
    assert lines[0].startswith("::warning file=m.py,line=4,col=38,")
    assert "title=IPF004::IPF004 " in lines[0]
    assert lines[-1].startswith("::error file=bad.py,title=inplace-fix::cannot parse")


def test_sarif_format_is_structurally_valid_2_1_0(tmp_path, monkeypatch) -> None:
    write(tmp_path, {"m.py": NET})
    log = json.loads(scan(tmp_path, monkeypatch, ".", "--format", "sarif").stdout)
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "inplace-fix" and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == [rule.code for rule in ALL_RULES]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["name"]
    assert len(run["results"]) == 2
    for item in run["results"]:
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"] == "IPF004"
        assert item["level"] in ("none", "note", "warning", "error") and item["message"]["text"]
        (location,) = item["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "m.py", "uriBaseId": "%SRCROOT%"}
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 38  # 1-based
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file://")
    assert run["invocations"][0]["executionSuccessful"] is True


# --- determinism, isolation ----------------------------------------------------------------------

def _many_files(root: Path, count: int = 40) -> None:
    for i in range(count):
        body = NET if i % 3 else "x = 1\n"
        write(root, {f"pkg{i % 4}/mod_{i:02d}.py": "\n" * (i % 7) + body * (1 + i % 5)})


def _cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", [["scan", "."], ["scan", ".", "--format", "sarif"], ["migrate", "."]])
def test_output_is_identical_whatever_the_number_of_workers(tmp_path, command) -> None:
    _many_files(tmp_path)
    serial, parallel = _cli([*command, "--jobs", "1"], tmp_path), _cli([*command, "--jobs", "2"], tmp_path)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout and serial.stdout
    assert serial.stderr == parallel.stderr


def test_scan_and_migrate_never_import_torch(tmp_path) -> None:
    fake = tmp_path / "fake"
    write(fake, {"torch/__init__.py": "raise ImportError('inplace-fix imported torch')\n"})
    write(tmp_path / "proj", {"m.py": NET, "t.py": "import torch\nx = torch.zeros(3)\nx += 1\n"})
    env = {"PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")])}
    for command in (["scan", "."], ["migrate", "."], ["migrate", ".", "--apply"]):
        proc = _cli(command, tmp_path / "proj", env)
        assert proc.returncode in (0, 1), proc.stderr
        assert "imported torch" not in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-c", "import torch"], env={**os.environ, **env}, capture_output=True,
                          text=True)
    assert "inplace-fix imported torch" in proc.stderr  # the trap is armed


def test_scanned_code_is_never_executed(tmp_path) -> None:
    marker = tmp_path / "executed"
    write(tmp_path, {"evil.py": f"open({str(marker)!r}, 'w').close()\n" + NET})
    assert _cli(["scan", "."], tmp_path).returncode == 1
    assert _cli(["migrate", ".", "--apply"], tmp_path).returncode == 0
    assert not marker.exists()


UNKNOWN_AND_KNOWN = (
    "import torch\n\n"
    "def f(x):\n    x.add_(1)\n    return x\n\n"
    "def g():\n    y = torch.sigmoid(torch.randn(3, requires_grad=True))\n    y.add_(1)\n    return y\n"
)


def test_low_confidence_findings_are_hidden_unless_asked_for(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(UNKNOWN_AND_KNOWN)
    default = scan(tmp_path, monkeypatch, ".")
    assert [line.split(": ")[0] for line in default.output.splitlines() if line.startswith("m.py")] == ["m.py:9:5"]
    everything = scan(tmp_path, monkeypatch, ".", "--min-confidence", "low")
    assert [line.split(": ")[0] for line in everything.output.splitlines() if line.startswith("m.py")] == [
        "m.py:4:5", "m.py:9:5"]
    assert scan(tmp_path, monkeypatch, ".", "--min-confidence", "sure").exit_code == 2
