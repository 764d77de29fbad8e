"""Every rule's own examples are its test suite: collected here automatically."""

from __future__ import annotations

import pytest

from inplace_fix.transforms.api import analyze, rewrite
from inplace_fix.transforms.base import Example, FixSafety, Rule
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.registry import ALL_RULES


def _cases(kind: str) -> list:
    out = []
    for rule in ALL_RULES:
        for i, ex in enumerate(getattr(rule, kind)):
            out.append(pytest.param(rule, ex, id=f"{rule.code}-{kind}-{i}"))
    return out


def _own(rule: Rule, source: str) -> list:
    return [f for f in analyze(source) if f.code == rule.code]


@pytest.mark.parametrize("rule,source", _cases("valid"))
def test_valid_is_not_flagged(rule: Rule, source: str) -> None:
    compile(source, "<valid>", "exec")
    assert _own(rule, source) == []


@pytest.mark.parametrize("rule,example", _cases("invalid"))
def test_invalid_is_flagged_and_rewritten(rule: Rule, example: Example) -> None:
    compile(example.before, "<before>", "exec")
    findings = _own(rule, example.before)
    assert findings, f"{rule.code} did not flag:\n{example.before}"
    fixable = [f for f in findings if f.fixable]
    if example.after is None:
        assert not fixable, f"expected flag-only, got fixable {fixable}"
        assert all(f.safety is FixSafety.NONE for f in findings)
        # a site the rule refuses by its shape is refused by the rewriter too; one it declines on
        # evidence (a rebinding the caller would see, a comment asking to keep it) says why
        refused = {c.position for c in rule.candidates(FileContext.build(example.before)) if not c.fixable}
        result = rewrite(example.before, {rule.code: [f.position for f in findings if f.position in refused]})
        assert result.source == example.before  # flag-only sites are never rewritten
        assert all(f.note for f in findings if f.position not in refused), findings
        return
    for finding in fixable:
        assert (finding.safety is FixSafety.UNSAFE) == example.unsafe, f"safety {finding.safety} for\n{example.before}"
    positions = [f.position for f in fixable]
    result = rewrite(example.before, {rule.code: positions})
    assert result.source == example.after
    assert result.applied == tuple(sorted(positions))
    compile(result.source, "<after>", "exec")
    # idempotent: the rewritten site is not a fixable finding of the same rule any more
    again = [f for f in _own(rule, result.source) if f.fixable]
    assert again == [], f"second pass still finds {again}"
    assert rewrite(result.source, {rule.code: [f.position for f in again]}).source == result.source


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_metadata(rule: Rule) -> None:
    assert rule.code.startswith("IPF") and len(rule.code) == 6
    assert rule.name and rule.message and len(rule.explanation) > 80
    assert rule.safety in FixSafety
    if rule.safety is not FixSafety.NONE:
        assert rule.unsafe_when
    assert len(rule.valid) >= 8 and len(rule.invalid) >= 8


def test_codes_sorted_and_unique() -> None:
    codes = [r.code for r in ALL_RULES]
    assert codes == sorted(set(codes)) == [f"IPF00{i}" for i in range(1, 9)]
