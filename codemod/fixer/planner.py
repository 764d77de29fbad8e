"""Choose, for each diagnosed problem, the rule and the exact node to rewrite.

The runtime names the sites (modified_at, saved_at, construction_at); the rule that
answers the problem says which of them holds its node (`Rule.fix_targets`), and the
rule's `locate` turns a site into the start of the node it would rewrite. Only the
sites that caused a problem are planned: harmless in-place code stays (it saves memory).

A problem may get several candidate rewrites, from several rules, in this order: the
rule's targets, then an alias search above each target's site (`Rule.alias_line`),
then a config-literal search up the construction stack (config_site.py). The first
that locates is the plan; every further one is kept as an alternative. No table here
knows a rule: titles, hand-fix advice, kinds and sites all come from the rules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from inplace_fix.fixer import advice, config_site
from inplace_fix.fixer.model import Plan, PlannedFix, Unfixable
from inplace_fix.paths import editable, resolve
from inplace_fix.report import Problem, Report, Site
from inplace_fix.transforms.base import FixTarget, Rule
from inplace_fix.transforms.registry import get_rule, rule_for_kind

# locate(source, code, line, col) -> Position | None (transforms.api.locate)
Locate = Callable[[str, str, int, "int | None"], Any]
ReadText = Callable[[Path], str]

ALIAS_SEARCH = "alias_search"  # PlannedFix.site: found above the runtime's site, not at it


def _default_locate() -> Locate:
    try:
        from inplace_fix.transforms.api import locate  # imported late: libcst loads only when something is planned
    except ImportError as exc:  # a broken installation: every problem explains it instead of a traceback
        error = exc

        def locate(source: str, code: str, line: int, col: int | None) -> Any:
            raise error

    return locate


def _default_read(path: Path) -> str:
    from inplace_fix.fileio import read_source

    return read_source(path).text


def _rule(code: str) -> Rule | None:
    try:
        return get_rule(code)
    except KeyError:  # a code this installation does not know (a newer runtime)
        return None


def rule_of(problem: Problem) -> str | None:
    """The IPF code the runtime believes applies (or the one its kind implies)."""
    code = problem.rule or (problem.fix.rule if problem.fix else None)
    if not code:
        rule = rule_for_kind(problem.kind)
        code = rule.code if rule is not None else None
    return code or None


def fix_targets(problem: Problem, code: str | None = None) -> tuple[FixTarget, ...]:
    """Where the answering rule's rewrite goes, best first; () when no rule answers.

    `code` defaults to `rule_of(problem)`. An unknown code keeps one target at the write,
    so `locate` explains why it has no rewrite.
    """
    code = rule_of(problem) if code is None else code
    if not code:
        return ()
    rule = _rule(code)
    if rule is None:
        return (FixTarget(code, "modified_at", f"apply {code}"),)
    return rule.fix_targets({key: site.code for key, site in problem.sites.items()})


def _usable(site: Site | None) -> bool:
    """The runtime gave a file and a line (a site without a file parses to the cwd itself)."""
    return site is not None and site.line > 0 and bool(site.path) and not os.path.isdir(site.path)


def _add(found: list[PlannedFix], fix: PlannedFix) -> None:
    """Keep one candidate per node: a search may find the node a target already located."""
    if not any((f.rule, f.file, f.line, f.col) == (fix.rule, fix.file, fix.line, fix.col) for f in found):
        found.append(fix)


def plan_candidates(index: int, problem: Problem, report: Report | None, root: Path, locate: Locate,
                    read: ReadText) -> tuple[PlannedFix, ...] | Unfixable:
    """Every rewrite that answers one problem, best first (never empty), or why none applies.

    Why none applies is said for the best target: its site is missing or outside the
    project, its file unreadable, the config search ambiguous, or no node there.
    """
    if advice.is_optimizer_step(problem):
        return Unfixable(index, advice.optimizer_step(problem, report))
    if advice.is_parameter_data_update(problem):
        return Unfixable(index, advice.parameter_data_update(problem, report))
    if advice.is_ambiguous_view(problem):
        return Unfixable(index, advice.ambiguous_view(problem))
    code = rule_of(problem)
    if advice.is_differentiable_leaf_update(problem, code):  # no_grad would change what it computes
        return Unfixable(index, advice.differentiable_leaf_update(problem))
    targets = fix_targets(problem, code)
    texts: dict[Path, str] = {}
    if not targets:
        clone = clone_candidate(index, problem, root, read, texts)
        if isinstance(clone, PlannedFix):  # the write is not ours to change (a library's), the save is
            return (clone,)
        site = problem.modified_at
        if _usable(site) and not editable(site.path, root):
            return Unfixable(index, advice.outside_project(problem, site, code, str(root)))
        return Unfixable(index, advice.no_rewrite(problem, site, code))

    found: list[PlannedFix] = []
    reasons: list[str] = []  # per target, why it gave nothing
    located: list[tuple[FixTarget, Site, Path, str]] = []  # targets whose file was read and searched
    for target in targets:
        site = problem.site(target.site)
        if not _usable(site):
            reasons.append(advice.no_rewrite(problem, site, code))
            continue
        if not editable(site.path, root):
            reasons.append(advice.outside_project(problem, site, code, str(root)))
            continue
        path = resolve(site.path)
        try:
            if path not in texts:
                texts[path] = read(path)
            position = locate(texts[path], target.rule, site.line, site.col)
        except Exception as exc:  # unreadable or unparsable file: never guess
            reasons.append(f"{advice.no_rewrite(problem, site, target.rule)} ({type(exc).__name__}: {exc})")
            continue
        reasons.append(advice.no_rewrite(problem, site, target.rule))
        located.append((target, site, path, texts[path]))
        if position is not None:
            _add(found, PlannedFix(problem=index, rule=target.rule, file=path, line=position.line,
                                   col=position.col, title=target.title, site=target.site))

    for target, site, path, text in located:
        rule = _rule(target.rule)
        line = rule.alias_line(text, site.line, site.code) if rule is not None else None
        if line is not None:
            position = _searched(found, lambda: locate(text, target.rule, line, None))
            if position is not None:
                _add(found, PlannedFix(problem=index, rule=target.rule, file=path, line=position.line,
                                       col=position.col, title=target.title, site=ALIAS_SEARCH))

    for target, _site, _path, _text in located:
        if not config_site.applies(target):
            continue
        traced = _searched(found, lambda: config_site.plan_config_literal(index, problem, root, locate, read,
                                                                          target.title))
        if isinstance(traced, PlannedFix):
            _add(found, traced)
        elif isinstance(traced, Unfixable):  # ambiguous or outside the project: the better reason
            reasons[targets.index(target)] = traced.why

    clone = _searched(found, lambda: clone_candidate(index, problem, root, read, texts))
    if isinstance(clone, PlannedFix):
        _add(found, clone)
    if found:
        return tuple(found)
    return Unfixable(index, reasons[0])


def clone_candidate(index: int, problem: Problem, root: Path, read: ReadText,
                    texts: dict[Path, str]) -> PlannedFix | str:
    """`.clone()` at the saving site, for a saved tensor a later write changed; or why not.

    The runtime recorded which operand of the saving op was saved (or its result: also for an
    op that wrote its argument in place, `nn.ReLU(inplace=True)`); cloning it there gives
    autograd a private copy, as the reference run does.
    """
    saved = problem.saved_at
    if problem.kind != "saved-tensor-modified" or not _usable(saved):
        return "nothing was saved where the script says"
    if not editable(saved.path, root):
        return "the saving line is outside the project"
    from inplace_fix.transforms.clone_saved import CODE, clone_site  # libcst-free, but only needed here

    path = resolve(saved.path)
    if path not in texts:
        texts[path] = read(path)
    site = clone_site(texts[path], saved.data)
    if isinstance(site, str):
        return site
    if site.role == "input":
        title = (f"clone `{site.text}` where `{site.saving}` saves it for backward, so the later in-place write "
                 "cannot change it (one extra copy of that tensor per forward pass)")
    else:  # the op saved its own result (an in-place op's result is the tensor it wrote)
        title = (f"clone the result of `{site.saving}`, which autograd saves for backward, so the later in-place "
                 "write changes the copy, not the saved tensor (one extra copy of that tensor per forward pass)")
    return PlannedFix(problem=index, rule=CODE, file=path, line=site.span.line, col=site.span.col, title=title,
                      site="saved_at", strategy="clone-at-save", end_line=site.span.end_line,
                      end_col=site.span.end_col)


def _searched(found: list[PlannedFix], search: Callable[[], Any]) -> Any:
    """Run a further search; once a rewrite is planned, a search that fails only offers nothing."""
    if not found:
        return search()
    try:
        return search()
    except Exception:  # an alternative's failure must not lose the plan
        return None


def plan_problem(index: int, problem: Problem, report: Report | None, root: Path,
                 locate: Locate, read: ReadText) -> PlannedFix | Unfixable:
    """One problem -> its best rewrite, or the reason none applies."""
    planned = plan_candidates(index, problem, report, root, locate, read)
    return planned if isinstance(planned, Unfixable) else planned[0]


def plan_all(problems: Sequence[Problem], root: str | Path, report: Report | None = None,
             locate: Locate | None = None, read: ReadText | None = None) -> Plan:
    """Plan every problem of a report; several problems on one node share one rewrite.

    `Plan.fixes` holds each problem's best rewrite, `Plan.alternatives` the others found.
    """
    locate = locate or _default_locate()
    read = read or _default_read
    root_path = resolve(root)
    fixes: list[PlannedFix] = []
    alternatives: list[PlannedFix] = []
    unfixable: list[Unfixable] = []
    for index, problem in enumerate(problems):
        planned = plan_candidates(index, problem, report, root_path, locate, read)
        if isinstance(planned, Unfixable):
            unfixable.append(planned)
        else:
            fixes.append(planned[0])
            alternatives.extend(planned[1:])
    return Plan(tuple(fixes), tuple(unfixable), tuple(alternatives))
