"""`inplace-fix rule CODE` and `inplace-fix rule --all`: a rule's page, from its class.

The same Markdown as docs/rules/CODE.md; `--all --docs DIR` writes those files again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from inplace_fix.console import Console
from inplace_fix.exit_codes import ExitCode


def _fail(message: str) -> None:
    Console(sys.stderr).print(f"Error: {message}")
    click.get_current_context().exit(int(ExitCode.USAGE))


@click.command("rule")
@click.argument("code", required=False)
@click.option("--all", "all_rules", is_flag=True, help="Every rule's page, in code order.")
@click.option("--docs", "docs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="With --all: write the pages to DIR (CODE.md and README.md) instead of printing.")
def rule_command(code: str | None, all_rules: bool, docs_dir: Path | None) -> None:
    """Explain a rule: what it finds, why it breaks autograd, an example, what to write
    instead and whether its automatic fix is safe.

    \b
    inplace-fix rule IPF004
    inplace-fix rule --all
    """
    from inplace_fix.render.rules import doc_files, rule_page
    from inplace_fix.transforms.registry import ALL_RULES

    if all_rules == (code is not None):
        _fail("give one rule code (`inplace-fix rule IPF004`) or --all")
    if docs_dir is not None and not all_rules:
        _fail("--docs writes every page: use it with --all")
    if code is not None:
        rule = next((r for r in ALL_RULES if r.code == code.strip().upper()), None)
        if rule is None:
            _fail(f"unknown rule code {code!r} (known: {', '.join(r.code for r in ALL_RULES)})")
        sys.stdout.write(rule_page(rule))
        return
    if docs_dir is None:
        sys.stdout.write("\n".join(rule_page(rule) for rule in ALL_RULES))
        return
    try:
        docs_dir.mkdir(parents=True, exist_ok=True)
        for name, text in doc_files(ALL_RULES).items():
            (docs_dir / name).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        _fail(f"{docs_dir}: cannot write the rule pages: {exc.strerror or exc}")
    Console(sys.stderr).print(f"wrote {len(ALL_RULES) + 1} pages to {docs_dir}")
