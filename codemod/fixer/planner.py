"""Choose, for each diagnosed problem, the rule and the exact node to rewrite.

The runtime names the sites (modified_at, saved_at, construction_at); the rule's
`locate` turns a site into the start of the node it would rewrite. Only the sites
that caused a problem are planned: harmless in-place code stays (it saves memory).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from codemod.fixer import advice
from codemod.fixer.model import Plan, PlannedFix, Unfixable
from codemod.fixer.sites import editable, resolve

# locate(source, code, line, col) -> Position | None (transforms.api.locate)
Locate = Callable[[str, str, int, "int | None"], Any]
ReadText = Callable[[Path], str]

TITLES = {
    "IPF001": "rewrite the augmented assignment out of place",
    "IPF002": "call the out-of-place Tensor method and rebind the name",
    "IPF003": "call the out-of-place torch function and rebind the name",
    "IPF004": "drop inplace=True",
    "IPF005": "use .detach() instead of .data so autograd sees the write",
    "IPF006": "clone the tensor before the indexed assignment",
    "IPF007": "assign the result instead of writing into out=",
    "IPF008": "wrap the in-place update of the leaf in `with torch.no_grad():`",
}

_KIND_RULE = {"leaf-modified": "IPF008", "silent-data-mutation": "IPF005"}

# `h.data.mul_(0.5)` as a statement: the write itself can become visible, `h = h.mul(0.5)`
_DATA_WRITE_STATEMENT = re.compile(r"^\s*[A-Za-z_][\w.]*\.data\.\w+_\(")
VISIBLE_TITLE = "make the `.data` write visible to autograd: rebind the name to the out-of-place result"


def rule_of(problem: Mapping[str, Any]) -> str | None:
    """The IPF code the runtime believes applies (or the one its kind implies)."""
    rule = problem.get("rule")
    if not rule:
        rule = (problem.get("fix") or {}).get("rule") or _KIND_RULE.get(problem.get("kind", ""))
    return rule or None


def site_of(problem: Mapping[str, Any], rule: str | None) -> tuple[str, Mapping[str, Any] | None]:
    """Which runtime site holds the node to rewrite, per rule (issue 4, planner)."""
    if rule == "IPF004" and problem.get("construction_at"):
        return "construction_at", problem["construction_at"]
    if rule == "IPF005":
        for key in ("alias_at", "data_at"):
            if problem.get(key):
                return key, problem[key]
    return "modified_at", problem.get("modified_at")


def _default_locate() -> Locate:
    try:
        from transforms.api import locate  # imported late: libcst loads only when something is planned
    except ImportError as exc:  # a broken installation: every problem explains it instead of a traceback
        error = exc

        def locate(source: str, code: str, line: int, col: int | None) -> Any:
            raise error

    return locate


def _default_read(path: Path) -> str:
    from codemod.fileio import read_source

    return read_source(path).text


def _title(rule: str) -> str:
    try:
        from transforms.registry import get_rule

        message = getattr(get_rule(rule), "message", "")
    except Exception:  # the registry is optional for planning: fall back to our words
        message = ""
    return TITLES.get(rule, message or f"apply {rule}")


_RECEIVER = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(\.|\[|[-+*/@]?=)")
_SEARCH_LINES = 50


def _data_alias(text: str, site: Mapping[str, Any], rule: str, locate: Locate) -> Any:
    """For a write through an alias (`act = h.data` ... `act.clamp_()`): the `.data` that made it.

    The runtime names the write; the alias was created earlier, by the nearest assignment
    to the written name that reads `.data`, in the lines above (same function).
    """
    match = _RECEIVER.match(site.get("code") or "")
    if not match:
        return None
    name = re.escape(match.group("name"))
    creates = re.compile(rf"^\s*{name}\s*=.*\.data\b")
    lines = text.splitlines()
    line = int(site["line"])
    for number in range(line - 1, max(0, line - 1 - _SEARCH_LINES), -1):
        code = lines[number - 1]
        if re.match(r"\s*(async\s+)?def\s", code):
            return None
        if creates.match(code):
            return locate(text, rule, number, None)
    return None


def plan_problem(index: int, problem: Mapping[str, Any], report: Mapping[str, Any], root: Path,
                 locate: Locate, read: ReadText) -> PlannedFix | Unfixable:
    """One problem -> one rewrite, or the reason none applies."""
    rule = rule_of(problem)
    key, site = site_of(problem, rule)
    if advice.is_optimizer_step(problem):
        return Unfixable(index, advice.optimizer_step(problem, report))
    if advice.is_parameter_data_update(problem):
        return Unfixable(index, advice.parameter_data_update(problem, report))
    if advice.is_ambiguous_view(problem):
        return Unfixable(index, advice.ambiguous_view(problem))
    if not site or not site.get("file") or not site.get("line"):
        return Unfixable(index, advice.no_rewrite(problem, site, rule))
    path = resolve(site["file"])
    if not editable(path, root):
        return Unfixable(index, advice.outside_project(problem, site, rule, str(root)))
    if rule is None:
        return Unfixable(index, advice.no_rewrite(problem, site, rule))
    if rule == "IPF005" and key == "modified_at" and _DATA_WRITE_STATEMENT.match(site.get("code") or ""):
        rule, title = "IPF002", VISIBLE_TITLE  # verified by the float64 finite-difference check
    else:
        title = _title(rule)
    try:
        text = read(path)
        position = locate(text, rule, int(site["line"]), site.get("col"))
    except Exception as exc:  # unreadable or unparsable file: never guess
        return Unfixable(index, f"{advice.no_rewrite(problem, site, rule)} ({type(exc).__name__}: {exc})")
    if position is None and rule == "IPF005":
        position = _data_alias(text, site, rule, locate)
        key = "alias_search" if position is not None else key
    if position is None and rule == "IPF004" and key == "construction_at":
        from codemod.fixer.config_site import plan_config_literal  # a builder's `cls(**cfg)`: find the cfg literal

        traced = plan_config_literal(index, problem, root, locate, read, _title(rule))
        if traced is not None:
            return traced
    if position is None:
        return Unfixable(index, advice.no_rewrite(problem, site, rule))
    return PlannedFix(problem=index, rule=rule, file=path, line=position.line, col=position.col,
                      title=title, site=key)


def plan_all(problems: Sequence[Mapping[str, Any]], root: str | Path, report: Mapping[str, Any] | None = None,
             locate: Locate | None = None, read: ReadText | None = None) -> Plan:
    """Plan every problem of a report; several problems on one node share one rewrite."""
    locate = locate or _default_locate()
    read = read or _default_read
    root_path = resolve(root)
    fixes: list[PlannedFix] = []
    unfixable: list[Unfixable] = []
    for index, problem in enumerate(problems):
        item = plan_problem(index, problem, report or {}, root_path, locate, read)
        (fixes if isinstance(item, PlannedFix) else unfixable).append(item)
    return Plan(tuple(fixes), tuple(unfixable))


def targets(fixes: Sequence[PlannedFix]) -> dict[Path, dict[str, list[Any]]]:
    """Per file, per rule, the distinct node positions to rewrite (sorted, no duplicates)."""
    from transforms.base import Position

    out: dict[Path, dict[str, list[Any]]] = {}
    for fix in fixes:
        per_rule = out.setdefault(fix.file, {}).setdefault(fix.rule, [])
        position = Position(fix.line, fix.col)
        if position not in per_rule:
            per_rule.append(position)
    for per_rule in out.values():
        for positions in per_rule.values():
            positions.sort()
    return dict(sorted(out.items()))


def plan(problem: Any, root: str, cwd: str) -> tuple[Any, str | None]:
    """The dry-run hook `codemod.diagnose.propose_fix` calls: (FixProposal | None, why_unfixable).

    Same planner and rewrite as --apply, so the diff shown is the diff --apply writes.
    """
    from codemod.fixer.preview import propose

    return propose(problem, root, cwd)
