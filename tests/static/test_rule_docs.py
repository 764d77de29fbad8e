"""`inplace-fix rule` and docs/rules/: one generator, so the committed pages match the rule classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.render.rules import doc_files
from inplace_fix.transforms.api import rewrite, analyze
from inplace_fix.transforms.registry import ALL_RULES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
REGENERATE = "regenerate with `inplace-fix rule --all --docs docs/rules`"


def test_committed_docs_match_the_generator() -> None:
    expected = doc_files(ALL_RULES)
    assert sorted(p.name for p in DOCS.iterdir()) == sorted(expected), REGENERATE
    for name, text in expected.items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, f"docs/rules/{name} is stale: {REGENERATE}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_command_prints_the_page(rule) -> None:
    result = CliRunner().invoke(main, ["rule", rule.code.lower()])
    assert result.exit_code == 0
    assert result.stdout == (DOCS / f"{rule.code}.md").read_text(encoding="utf-8")
    for heading in ("What it finds", "Why it breaks autograd", "Example", "Use instead", "Fix safety"):
        assert f"\n## {heading}\n" in result.stdout


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_the_page_example_is_what_the_rule_does(rule) -> None:
    example = rule.invalid[rule.doc_example]
    page = (DOCS / f"{rule.code}.md").read_text(encoding="utf-8")
    assert f"```python\n{example.before.rstrip()}\n```" in page
    found = [f for f in analyze(example.before, "example.py") if f.code == rule.code]
    assert found
    if example.after is not None:
        assert f"```python\n{example.after.rstrip()}\n```" in page
        assert rewrite(example.before, {rule.code: {f.position for f in found}}).source == example.after


def test_rule_all_prints_every_page_and_writes_the_docs(tmp_path) -> None:
    result = CliRunner().invoke(main, ["rule", "--all"])
    assert result.exit_code == 0
    assert [line for line in result.stdout.splitlines() if line.startswith("# IPF")] == \
        [f"# {r.code}: {r.name}" for r in ALL_RULES]
    written = CliRunner().invoke(main, ["rule", "--all", "--docs", str(tmp_path / "out")])
    assert written.exit_code == 0
    assert {p.name: p.read_text() for p in (tmp_path / "out").iterdir()} == doc_files(ALL_RULES)


@pytest.mark.parametrize("args", [["rule"], ["rule", "IPF999"], ["rule", "IPF004", "--all"], ["rule", "IPF004", "--docs", "x"]])
def test_bad_rule_arguments_are_one_line_and_exit_2(args) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")
    assert result.stdout == ""
