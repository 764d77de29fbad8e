"""Large files: a generated 1 MB module gets exactly the findings and rewrites of its pieces,
and `--file-timeout` leaves a file over its budget alone while the run goes on.

Timing figures (time against size) are `benchmarks/scale.py`'s job; here only its quick
mode runs, as a smoke test.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.transforms.api import analyze, rewrite
from inplace_fix.transforms.base import FixSafety
from inplace_fix.workset import default_codes
from static_helpers import NET

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NET_FIXED = NET.replace("nn.ReLU(inplace=True)", "nn.ReLU()").replace("F.relu(x, inplace=True)", "F.relu(x)")
BUDGET = "0.5"  # seconds: a tiny file takes milliseconds (a loaded machine may pause it a while), the 1 MB file seconds


def _load_scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", BENCHMARKS / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


scale = _load_scale()


@pytest.fixture(scope="module")
def pieces() -> list[str]:
    """About 1 MB of generated model code, in independent top-level pieces."""
    sample = scale.pieces(12)
    count = round(1024 * 1024 / (sum(map(len, sample)) / len(sample)))
    return scale.pieces(count)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(root)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _offsets(pieces: list[str]) -> list[int]:
    """The line each piece starts on in HEADER + pieces, minus the line it starts on alone."""
    out, line = [], 0
    for piece in pieces:
        out.append(line)
        line += piece.count("\n")
    return out


@pytest.fixture(scope="module")
def alone(pieces: list[str]) -> list[list]:
    """Each piece's findings when it is a file of its own (after the imports), as `scan` keeps them."""
    rules = set(default_codes())
    return [[f for f in analyze(scale.HEADER + piece) if f.code in rules and f.confidence.value != "low"]
            for piece in pieces]


def test_a_1mb_file_has_exactly_the_findings_of_its_pieces(tmp_path, monkeypatch, pieces, alone) -> None:
    (tmp_path / "big.py").write_text(scale.HEADER + "".join(pieces))
    result = run(tmp_path, monkeypatch, "scan", "--format", "json", "big.py")
    assert result.exit_code == 1
    found = [(f["line"], f["col"], f["end_line"], f["end_col"], f["code"], f["confidence"], f["safety"], f["note"])
             for f in json.loads(result.stdout)["findings"]]
    expected = [(f.line + shift, f.col, f.end_line + shift, f.end_col, f.code, f.confidence.value, f.safety.value,
                 f.note) for findings, shift in zip(alone, _offsets(pieces)) for f in findings]
    assert len(found) > 4000
    assert sorted(found) == sorted(expected)


def test_a_1mb_file_is_rewritten_like_its_pieces_and_its_diff_applies(tmp_path, monkeypatch, pieces, alone) -> None:
    text = scale.HEADER + "".join(pieces)
    expected = [scale.HEADER]
    for piece, findings in zip(pieces, alone):
        plan: dict[str, list] = {}
        for f in findings:  # what `migrate` rewrites without --unsafe-fixes
            if f.fixable and f.safety is FixSafety.SAFE:
                plan.setdefault(f.code, []).append(f.position)
        expected.append(rewrite(scale.HEADER + piece, plan).source[len(scale.HEADER):])
    expected_text = "".join(expected)
    assert expected_text != text
    (tmp_path / "big.py").write_text(text)
    dry = run(tmp_path, monkeypatch, "migrate", "big.py")
    assert dry.exit_code == 1
    assert (tmp_path / "big.py").read_text() == text  # a dry run writes nothing
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply"], cwd=tmp_path, input=dry.stdout.encode(), check=True)
    assert (tmp_path / "big.py").read_text() == expected_text


@pytest.fixture()
def tree_with_a_big_file(tmp_path: Path, pieces: list[str]) -> Path:
    (tmp_path / "a.py").write_text(NET)
    (tmp_path / "z.py").write_text(NET)
    (tmp_path / "big.py").write_text(scale.HEADER + "".join(pieces))
    return tmp_path


def _timeout_line(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "time budget" in line]


def test_a_file_over_its_budget_is_reported_and_the_others_are_scanned(tree_with_a_big_file, monkeypatch) -> None:
    root = tree_with_a_big_file
    result = run(root, monkeypatch, "scan", "--file-timeout", BUDGET, ".")
    assert result.exit_code == 2
    assert _timeout_line(result.stderr) == [f"big.py: error: exceeded the time budget of {BUDGET} s per file "
                                            "(--file-timeout); file left alone"]
    rows = {line.split(": ")[0] for line in result.stdout.splitlines()}
    assert rows == {"a.py:4:38", "a.py:9:9", "z.py:4:38", "z.py:9:9"}
    report = json.loads(run(root, monkeypatch, "scan", "--file-timeout", BUDGET, "--format", "json", ".").stdout)
    assert [e["path"] for e in report["errors"]] == ["big.py"]
    assert {f["path"] for f in report["findings"]} == {"a.py", "z.py"}
    sarif = json.loads(run(root, monkeypatch, "scan", "--file-timeout", BUDGET, "--format", "sarif", ".").stdout)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for n in invocation["toolExecutionNotifications"]] == ["big.py"]


def test_migrate_apply_writes_nothing_for_a_file_over_its_budget(tree_with_a_big_file, monkeypatch) -> None:
    root = tree_with_a_big_file
    before = (root / "big.py").read_bytes()
    result = run(root, monkeypatch, "migrate", "--apply", "--unsafe-fixes", "--file-timeout", BUDGET, ".")
    assert result.exit_code == 2
    assert len(_timeout_line(result.stderr)) == 1 and _timeout_line(result.stderr)[0].startswith("big.py: ")
    assert (root / "big.py").read_bytes() == before
    assert (root / "a.py").read_text() == NET_FIXED and (root / "z.py").read_text() == NET_FIXED
    # no temp file left (the state folder holds the project's lock, and no journal)
    assert [p.name for p in root.iterdir() if p.name.startswith(".") or p.suffix not in (".py",)] == [".inplace-fix"]
    assert not any((root / ".inplace-fix" / "journal").iterdir())


def test_the_budget_holds_in_the_worker_processes_too(tmp_path, monkeypatch, pieces) -> None:
    from inplace_fix.bulk import IN_PROCESS_MAX

    names = [f"m{i:02}.py" for i in range(IN_PROCESS_MAX)]  # enough files for the process pool
    for name in names:
        (tmp_path / name).write_text(NET)
    (tmp_path / "big.py").write_text(scale.HEADER + "".join(pieces))
    before = (tmp_path / "big.py").read_bytes()
    result = run(tmp_path, monkeypatch, "migrate", "--apply", "--jobs", "2", "--file-timeout", BUDGET, ".")
    assert result.exit_code == 2
    assert [line.split(":")[0] for line in _timeout_line(result.stderr)] == ["big.py"]
    assert (tmp_path / "big.py").read_bytes() == before
    assert all((tmp_path / name).read_text() == NET_FIXED for name in names)


def test_no_budget_with_zero_and_a_negative_budget_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "a.py").write_text(NET)
    assert run(tmp_path, monkeypatch, "scan", "--file-timeout", "0", "a.py").exit_code == 1
    refused = run(tmp_path, monkeypatch, "scan", "--file-timeout", "-1", "a.py")
    assert refused.exit_code == 2 and "--file-timeout" in refused.stderr


def test_scale_benchmark_quick_mode_runs(tmp_path) -> None:
    out = tmp_path / "scale.json"
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "scale.py"), "--quick", "--no-parse", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    assert {(row["command"], row["exit_code"]) for row in rows} == {
        ("scan", 1), ("migrate", 1), ("migrate --unsafe", 1), ("migrate --apply", 0), ("ast.parse only", 0)}
    assert len({row["size_kb"] for row in rows}) == 2
