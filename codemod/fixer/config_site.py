"""Trace an in-place module built by a builder back to the config literal that asked for it.

Why: mmcv/mmdet-style code builds activations from config dicts
(`build_act(dict(type="ReLU", inplace=True))`). The module is constructed inside the
builder (`cls(**cfg)`), the line the runtime names as `construction_at`, but the flag to
drop sits in a literal further out: an argument on a caller's line, a default argument, a
local, a module-level constant. The runtime also reports the construction's project stack
(`construction_stack`, innermost first); this walks it and returns the literal IPF004
would rewrite, or names the lines it could not choose between. Nothing here guesses: a
literal whose `type` names another class is never taken, and two equally likely literals
make the problem unfixable.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from inplace_fix.fixer.model import PlannedFix, Unfixable
from inplace_fix.paths import display_path, editable, resolve
from inplace_fix.report import Problem
from inplace_fix.transforms.base import FixTarget
from inplace_fix.transforms.context import FileContext
from inplace_fix.transforms.ipf004_inplace_flag import InplaceFlag

RULE = InplaceFlag.code  # the rule whose config-literal matching this search uses, and whose rewrite it plans
SITE = "config_literal"  # PlannedFix.site: the node was found by this search, not at a runtime site
_CONSTRUCTION = "construction_at"

Locate = Callable[[str, str, int, "int | None"], Any]
ReadText = Callable[[Path], str]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class ConfigLiteral:
    """A `dict(..., inplace=True)` or `{..., "inplace": True}` that IPF004 rewrites."""

    file: Path
    line: int
    col: int  # IPF004's rewrite position: 0-based character column
    type_name: str | None  # last name of its `type` value (`"ReLU"`, `nn.ReLU`); None when computed
    type_is_string: bool  # surely names the class: a torch.nn class's name or a key of this file's registry
    # (`ACTS = {"lrelu": nn.LeakyReLU}`); a name may be a variable (`type=act`)
    bound_to: str | None  # the name it is assigned to, or the parameter it is the default of
    code: str  # its first source line, stripped


@dataclass(frozen=True)
class Ambiguous:
    """Several literals fit equally well: the user must say which one built the module."""

    candidates: tuple[ConfigLiteral, ...]


def applies(target: FixTarget) -> bool:
    """The search complements a rewrite at a module's construction: a builder's `cls(**cfg)`
    holds no flag to drop, the literal that reached it does."""
    return target.rule == RULE and target.site == _CONSTRUCTION


def plan_config_literal(index: int, problem: Problem, root: Path, locate: Locate, read: ReadText,
                        title: str) -> PlannedFix | Unfixable | None:
    """The IPF004 rewrite of the config literal that built the problem's module.

    None when no literal was found (the caller's usual advice applies).
    """
    found = search(problem, locate, read)
    if found is None:
        return None
    if isinstance(found, Ambiguous):
        return Unfixable(index, ambiguous_advice(problem, found))
    if not editable(found.file, root):
        return Unfixable(index, outside_advice(problem, found, str(root)))
    return PlannedFix(problem=index, rule=RULE, file=found.file, line=found.line, col=found.col,
                      title=title, site=SITE)


def search(problem: Problem, locate: Locate, read: ReadText) -> ConfigLiteral | Ambiguous | None:
    """Walk the construction's stack outward, strongest evidence first.

    Tiers, each over every frame innermost first: a literal inside the statement a frame was
    executing (it was certainly evaluated on the way to the construction), then one in the
    frame's function (its body and its `def` line's defaults), then one at module level of
    the frame's file. The first frame of a tier that holds a fitting literal decides.
    """
    frames = _frames(problem)
    files: dict[Path, _File | None] = {}
    for frame in frames:
        if frame[0] not in files:
            files[frame[0]] = _File.load(frame[0], locate, read)
    loaded = [(files[path], line) for path, line in frames if files[path] is not None]
    names: set[str] = set()
    for parsed, line in loaded:
        names |= parsed.referenced_names(line)
    module = problem.get("module")
    seen: set[tuple[Path, int, int]] = set()
    for tier in ("line", "function", "module"):
        for parsed, line in loaded:
            group = [lit for lit in parsed.literals_in(tier, line) if (lit.file, lit.line, lit.col) not in seen]
            seen.update((lit.file, lit.line, lit.col) for lit in group)
            decided = _decide(group, module, names)
            if decided is not None:
                return decided
    return None


def _frames(problem: Problem) -> list[tuple[Path, int]]:
    stack = problem.construction_stack or (problem.construction_at,)
    out: list[tuple[Path, int]] = []
    for site in stack:
        if site is not None and site.path and site.line:
            frame = (resolve(site.path), site.line)
            if frame not in out:
                out.append(frame)
    return out


def _fits(literal: ConfigLiteral, module: str | None) -> bool | None:
    """True: its type names the module's class; False: another class; None: cannot tell."""
    if not module or literal.type_name is None:
        return None
    if literal.type_name.lower() == str(module).lower():
        return True
    return False if literal.type_is_string else None


def _decide(group: list[ConfigLiteral], module: str | None, names: set[str]) -> ConfigLiteral | Ambiguous | None:
    """One literal, an ambiguity, or None (nothing here could have built the module)."""
    possible = [lit for lit in group if _fits(lit, module) is not False]
    if not possible:
        return None
    matching = [lit for lit in possible if _fits(lit, module)]
    pool = matching or possible
    if len(pool) == 1:
        return pool[0]
    named = [lit for lit in pool if lit.bound_to and lit.bound_to in names]
    if len(named) == 1:
        return named[0]
    return Ambiguous(tuple(sorted(pool, key=lambda lit: (str(lit.file), lit.line, lit.col))))


class _File:
    """One parsed stack file and the config literals IPF004 would rewrite in it."""

    def __init__(self, path: Path, ctx: FileContext, locate: Locate) -> None:
        self.path, self.ctx, self.tree, self.locate = path, ctx, ctx.tree, locate
        self.nodes = {id(node) for node in ast.walk(self.tree) if InplaceFlag.is_config_literal(node)}
        self.bound = _bound_names(self.tree) if self.nodes else {}
        self._confirmed: dict[int, ConfigLiteral | None] = {}

    def _literal(self, node: ast.AST) -> ConfigLiteral | None:
        """The literal when IPF004 would rewrite exactly this node (asked once per node)."""
        if id(node) not in self._confirmed:
            start = InplaceFlag.config_position(self.ctx, node)
            position = self.locate(self.ctx.source, RULE, start.line, start.col)
            ok = position is not None and (position.line, position.col) == (start.line, start.col)
            type_name, is_string = InplaceFlag.config_type(node, self.ctx)  # the file's registries resolve keys
            self._confirmed[id(node)] = ConfigLiteral(
                self.path, start.line, start.col, type_name, is_string, self.bound.get(id(node)),
                self.ctx.source_line(start.line).strip()) if ok else None
        return self._confirmed[id(node)]

    @classmethod
    def load(cls, path: Path, locate: Locate, read: ReadText) -> "_File | None":
        try:
            return cls(path, FileContext.build(read(path), str(path)), locate)
        except Exception:  # unreadable or unparsable: this frame offers nothing to rewrite
            return None

    def literals_in(self, tier: str, line: int) -> list[ConfigLiteral]:
        """The literals of one tier for a frame at `line`, in source order."""
        if not self.nodes:
            return []
        if tier == "line":
            stmt = _innermost(self.tree, ast.stmt, line)
            nodes = _walk(stmt, skip=(ast.stmt,)) if stmt is not None else iter(())
        elif tier == "function":
            func = _innermost(self.tree, (ast.FunctionDef, ast.AsyncFunctionDef), line)
            nodes = _function_nodes(func) if func is not None else iter(())
        else:
            nodes = _walk(self.tree, skip=_FUNCTIONS)
        found = (self._literal(n) for n in nodes if id(n) in self.nodes)
        return sorted((lit for lit in found if lit is not None), key=lambda lit: (lit.line, lit.col))

    def referenced_names(self, line: int) -> set[str]:
        """Names read by the statement a frame executes and by its function's defaults."""
        nodes: list[ast.AST] = []
        stmt = _innermost(self.tree, ast.stmt, line)
        if stmt is not None:
            nodes.extend(_walk(stmt, skip=(ast.stmt,)))
        func = _innermost(self.tree, (ast.FunctionDef, ast.AsyncFunctionDef), line)
        if func is not None:
            for default in (*func.args.defaults, *func.args.kw_defaults):
                if default is not None:
                    nodes.extend(ast.walk(default))
        return {n.id for n in nodes if isinstance(n, ast.Name)}


def _bound_names(tree: ast.Module) -> dict[int, str]:
    """id(literal) -> `NAME` of `NAME = literal`, or the parameter a default belongs to."""
    out: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[id(node.value)] = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            out[id(node.value)] = node.target.id
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
                out[id(default)] = arg.arg
            for arg, default in zip(args.kwonlyargs, args.kw_defaults):
                if default is not None:
                    out[id(default)] = arg.arg
    return out


def _innermost(tree: ast.AST, kinds: type | tuple[type, ...], line: int) -> Any:
    """The node of `kinds` with the smallest span that holds `line` (None if none does)."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or (node.lineno, -(node.end_lineno or 0)) > (best.lineno, -(best.end_lineno or 0)):
                best = node
    return best


def _walk(root: ast.AST, skip: tuple[type, ...]) -> Iterator[ast.AST]:
    """`root` and its descendants, not entering nodes of `skip` (other than root itself)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, skip))


def _function_nodes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """A function's default arguments and body, without the functions and classes nested in it."""
    for default in (*func.args.defaults, *func.args.kw_defaults):
        if default is not None:
            yield from _walk(default, skip=_FUNCTIONS)
    for stmt in func.body:
        if not isinstance(stmt, (*_FUNCTIONS, ast.ClassDef)):
            yield from _walk(stmt, skip=(*_FUNCTIONS, ast.ClassDef))


def _where(literal: ConfigLiteral) -> str:
    return f"{display_path(literal.file)}:{literal.line} (`{literal.code}`)"


def _built(problem: Problem) -> str:
    site = problem.construction_at
    module = problem.get("module")
    what = f"the in-place {module}" if module else "the in-place module"
    if site is None or not site.path:
        return what
    return f"{what} built at {site.file()}:{site.line} (`{site.code.strip()}`)"


def ambiguous_advice(problem: Problem, found: Ambiguous) -> str:
    lines = "; ".join(_where(lit) for lit in found.candidates)
    return (f"{_built(problem)} takes `inplace=True` from a config dict, and more than one literal could "
            f"have reached it: {lines}. Change the one that builds it by hand: drop `inplace=True` "
            "(or set it to False).")


def outside_advice(problem: Problem, literal: ConfigLiteral, root: str) -> str:
    return (f"{_built(problem)} takes `inplace=True` from the config dict at {_where(literal)}, outside "
            f"the project root {root}; files there are never edited. Change it by hand: pass a config "
            "with `inplace=False`, or drop the flag where the dict is written.")
