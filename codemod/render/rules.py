"""A rule's page, from its class: what `inplace-fix rule CODE` prints and docs/rules/CODE.md holds.

One generator for both, so the committed docs cannot drift from the rules
(tests/static/test_rule_docs.py compares them); `inplace-fix rule --all --docs docs/rules`
writes them again after a rule changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from inplace_fix.transforms.base import FixSafety, Rule

__all__ = ["rule_page", "index_page", "doc_files", "DOC_SUFFIX"]

DOC_SUFFIX = ".md"

_SAFETY = {
    FixSafety.SAFE: ("safe", "`migrate --apply` applies it: it never changes forward values or the gradients "
                             "of the intended program."),
    FixSafety.UNSAFE: ("unsafe", "`migrate --apply` applies it only with `--unsafe-fixes`."),
    FixSafety.NONE: ("none", "The rule flags only; there is no automatic rewrite."),
}


_SHOWN_SAFE = ("unsafe unless shown safe", "`migrate --apply` applies it where the rule shows that the rewrite "
               "cannot change what the program computes (the finding is marked safe); elsewhere it needs "
               "`--unsafe-fixes`.")


def _safety(rule: Rule) -> tuple[str, str]:
    if rule.safety is FixSafety.UNSAFE and rule.safe_where_shown:
        return _SHOWN_SAFE
    return _SAFETY[rule.safety]


def _code_block(text: str) -> str:
    return "```python\n" + text.rstrip("\n") + "\n```\n"


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def rule_page(rule: Rule) -> str:
    """The rule's page as Markdown: what it finds, why it breaks autograd, an example, what to write
    instead, whether its fix is safe, the details and how to suppress it."""
    if not rule.finds or not rule.breaks:
        raise ValueError(f"{rule.code} has no `finds`/`breaks` text for its page")
    example = rule.invalid[rule.doc_example]
    label, what = _safety(rule)
    lines = [
        f"# {rule.code}: {rule.name}", "",
        f"{_sentence(rule.message)}", "",
        f"Fix safety: **{label}**. On by default in `scan`/`migrate`: "
        f"**{'yes' if rule.bulk_default else f'no (`--select {rule.code}`)'}**.", "",
        "## What it finds", "", rule.finds, "",
        "## Why it breaks autograd", "", rule.breaks, "",
        "## Example", "", _code_block(example.before),
        "## Use instead", "", f"{_sentence(rule.hand_fix)}", "",
    ]
    if example.after is not None:
        lines += [_code_block(example.after)]
    lines += ["## Fix safety", "", what, ""]
    if rule.unsafe_when:
        lines += [rule.unsafe_when, ""]
    lines += [
        "## Details", "", rule.explanation, "",
        "## Suppressing it", "",
        f"End the line with `# inplace-fix: ignore[{rule.code}]` or `# noqa: {rule.code}` "
        "(a bare `# noqa` suppresses every rule on the line; `# noqa: E501` suppresses none of ours).", "",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def index_page(rules: Sequence[Rule]) -> str:
    """docs/rules/README.md: one line per rule, linking its page."""
    lines = ["# Rules", "", "Generated from the rule classes in `transforms/` by "
             "`inplace-fix rule --all --docs docs/rules`; do not edit by hand.", "",
             "| code | name | finds | fix |", "|---|---|---|---|"]
    for rule in rules:
        message = rule.message.replace("|", "\\|")
        lines.append(f"| [{rule.code}]({rule.code}{DOC_SUFFIX}) | {rule.name} | {message} "
                     f"| {_safety(rule)[0]} |")
    return "\n".join(lines) + "\n"


def doc_files(rules: Sequence[Rule]) -> dict[str, str]:
    """File name -> text of every page in docs/rules/ (the index and one per rule)."""
    files = {"README.md": index_page(rules)}
    files.update({f"{rule.code}{DOC_SUFFIX}": rule_page(rule) for rule in rules})
    return files
