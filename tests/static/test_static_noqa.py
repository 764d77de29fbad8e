"""`# noqa` comments, read as flake8 and ruff read them, suppress findings and rewrites like ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.suppressions import parse_suppressions

LEAF = "import torch\n\nw = torch.randn(3, requires_grad=True)\nw -= 0.1 * w.grad{comment}\n"


def run(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(root)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("comment", ["  # noqa", "  # NOQA", "  #noqa: IPF008", "  # noqa: E501, IPF008",
                                     "  # noqa:E501 IPF008", "  # noqa: ipf008", "  # type: ignore  # noqa: IPF008",
                                     "  # inplace-fix: ignore[IPF008]"])
def test_noqa_for_our_code_suppresses_the_finding_and_the_rewrite(tmp_path, monkeypatch, comment) -> None:
    source = LEAF.format(comment=comment)
    (tmp_path / "m.py").write_text(source)
    scan = run(tmp_path, monkeypatch, "scan", "m.py")
    assert scan.exit_code == 0 and scan.stdout == ""
    assert "1 suppressed by ignore comments" in scan.stderr
    migrate = run(tmp_path, monkeypatch, "migrate", "--apply", "m.py")
    assert migrate.exit_code == 0
    assert (tmp_path / "m.py").read_text() == source


@pytest.mark.parametrize("comment", ["  # noqa: E501", "  # noqa: IPF004", "  # noqa: E501,W291", "  # no qa"])
def test_noqa_for_other_codes_leaves_our_finding_and_fix(tmp_path, monkeypatch, comment) -> None:
    (tmp_path / "m.py").write_text(LEAF.format(comment=comment))
    scan = run(tmp_path, monkeypatch, "scan", "m.py")
    assert scan.exit_code == 1 and "m.py:4:1: IPF008" in scan.stdout
    assert run(tmp_path, monkeypatch, "migrate", "--apply", "m.py").exit_code == 0
    assert "with torch.no_grad():" in (tmp_path / "m.py").read_text()


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    assert parse_suppressions("s = '# noqa'\nt = 1  # noqa: IPF001, IPF002\n") == {2: frozenset({"IPF001", "IPF002"})}
