"""`scan --format sarif` against the OASIS SARIF 2.1.0 schema, with the fixes a viewer can apply.

The schema is vendored (tests/data/sarif-schema-2.1.0.json, OASIS errata01) and checked
with `jsonschema`, so a structural mistake fails here rather than in GitHub code scanning.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.render.findings import help_uri
from static_helpers import NET

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
LEAF = "import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad\n"


def sarif(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["scan", "--format", "sarif", *args], catch_exceptions=False)
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return log


def apply_fix(text: str, change: dict) -> str:
    """Apply one SARIF replacement (1-based lines and code-point columns, end exclusive)."""
    lines = text.splitlines(keepends=True)
    region = change["deletedRegion"]

    def offset(line: int, col: int) -> int:
        return sum(len(x) for x in lines[:line - 1]) + col - 1

    start, end = offset(region["startLine"], region["startColumn"]), offset(region["endLine"], region["endColumn"])
    return text[:start] + change["insertedContent"]["text"] + text[end:]


def test_log_validates_and_uris_are_percent_encoded(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "my models" / "réseau"
    folder.mkdir(parents=True)
    (folder / "net é.py").write_text(NET)
    (tmp_path / "broken file.py").write_text("def (:\n")
    log = sarif(tmp_path, monkeypatch, ".")
    (run,) = log["runs"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"my%20models/r%C3%A9seau/net%20%C3%A9.py"}
    assert unquote(uris.pop()) == "my models/réseau/net é.py"
    (notice,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notice["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken%20file.py"


def test_rules_carry_their_page_and_a_help_uri(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text(NET)
    rules = sarif(tmp_path, monkeypatch, "m.py")["runs"][0]["tool"]["driver"]["rules"]
    docs = Path(__file__).resolve().parents[2] / "docs" / "rules"
    for rule in rules:
        assert rule["helpUri"].endswith(f"docs/rules/{rule['id']}.md")
        assert rule["help"]["markdown"] == (docs / f"{rule['id']}.md").read_text()
        assert "## Why it breaks autograd" in rule["help"]["text"]


def test_help_uri_points_into_the_repository_or_is_relative() -> None:
    assert help_uri("IPF004", "https://github.com/acme/inplace-fix") == \
        "https://github.com/acme/inplace-fix/blob/main/docs/rules/IPF004.md"
    assert help_uri("IPF004", None) == "docs/rules/IPF004.md"


def test_safe_findings_carry_fixes_that_give_the_migrate_rewrite(tmp_path, monkeypatch) -> None:
    source = "import torch.nn as nn\n\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))\n\n" + LEAF
    (tmp_path / "m.py").write_text(source)
    results = sarif(tmp_path, monkeypatch, "m.py")["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["IPF004", "IPF008"]
    fixed = source
    for result in reversed(results):  # bottom up, so earlier lines keep their numbers
        assert result["properties"]["safety"] == "safe"
        (fix,) = result["fixes"]
        assert fix["description"]["text"]
        (change,) = fix["artifactChanges"]
        assert change["artifactLocation"] == {"uri": "m.py", "uriBaseId": "%SRCROOT%"}
        (replacement,) = change["replacements"]
        fixed = apply_fix(fixed, replacement)
    CliRunner().invoke(main, ["migrate", "--apply", "m.py"], catch_exceptions=False)
    assert fixed == (tmp_path / "m.py").read_text() != source


def test_unsafe_findings_have_no_fixes(tmp_path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text("import torch.nn as nn\n\nact = nn.ReLU(inplace=True)\n")
    (result,) = sarif(tmp_path, monkeypatch, "m.py")["runs"][0]["results"]
    assert result["properties"]["safety"] == "unsafe" and "fixes" not in result


MIXED = (
    "import torch\n\n"
    "w = torch.randn(3, requires_grad=True)\n"
    "b = torch.randn(3, requires_grad=True)\n"
    "w -= 0.1 * w.grad\n"
    "b -= 0.1 * b.grad\n\n\n"
    "def f(a):\n"
    "    p = torch.sigmoid(a)\n"
    "    p[p < 0.5] = 0\n"
    "    return p\n"
)


def test_each_fix_alone_is_the_rewrite_of_its_finding_alone(tmp_path, monkeypatch) -> None:
    from inplace_fix.transforms.api import analyze, rewrite

    (tmp_path / "m.py").write_text(MIXED)
    results = sarif(tmp_path, monkeypatch, "m.py")["runs"][0]["results"]
    by_start = {(f.line, f.col + 1): f for f in analyze(MIXED, "m.py")}
    with_fixes = [r for r in results if "fixes" in r]
    assert {r["ruleId"] for r in with_fixes} == {"IPF006", "IPF008"} and len(with_fixes) == 3
    for result in with_fixes:
        region = result["locations"][0]["physicalLocation"]["region"]
        finding = by_start[(region["startLine"], region["startColumn"])]
        alone = rewrite(MIXED, {finding.code: frozenset({finding.position})}).source
        (replacement,) = result["fixes"][0]["artifactChanges"][0]["replacements"]
        assert apply_fix(MIXED, replacement) == alone != MIXED
