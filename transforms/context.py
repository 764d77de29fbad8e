"""One parse, one walk per file: everything the rules ask about a source file.

Rules never walk the tree themselves: they iterate node lists indexed here by
type, each paired with the `Scope` (enclosing function/class and the context
flags that make in-place code harmless) and the enclosing statement. Keeping
this to a single stdlib-`ast` walk is what lets `scan` read whole repositories
in a fraction of a libcst parse.
"""

from __future__ import annotations

import ast
import re
import weakref
from bisect import bisect_left, bisect_right
from itertools import accumulate
from dataclasses import dataclass, field
from typing import Union

from inplace_fix.transforms.base import Position

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]

# Functions whose body initialises parameters: in-place writes there are intended.
_INIT_NAMES = ("reset_parameters", "_init_weights", "init_weights", "weight_init", "_reset_parameters")
# Setup code (weight init, re-parameterisation/fusing for deployment, checkpoint loading):
# in-place writes there are deliberate and run outside training's autograd graph.
_SETUP_WORDS = ("init", "fuse", "reparam", "deploy", "convert", "load_pretrained", "load_weights",
                "checkpoint_filter", "_load_from", "remap")
_GRAD_OFF = ("no_grad", "inference_mode")
# Folders of data-loading / augmentation code: in-place ops there act on batches, not on
# tensors autograd tracks; findings are kept but with low confidence.
_PIPELINE_DIRS = frozenset({"data", "datasets", "dataset", "transforms", "augmentations", "io", "dataloaders"})
_NEWLINE = re.compile(r"\r\n|\r|\n")
# Text that any indexed expression must contain on one of its lines: `name_(`, `inplace`,
# a positional `True`, `out=`, `.data`, `:=`. Expressions on other lines are not walked.
_INTERESTING = re.compile(r"_ ?\(|inplace|True|out *=|\.data|:=")
# Conventional aliases assumed when a file uses them without importing them.
_CONVENTIONS = {"torch": "torch", "F": "torch.nn.functional", "nn": "torch.nn"}


@dataclass(frozen=True)
class Scope:
    """Where a node sits: enclosing function and class, and why in-place may be fine there."""

    func: FunctionNode | None = None
    cls: ast.ClassDef | None = None
    no_grad: bool = False  # inside `with torch.no_grad()`/`inference_mode()` or a decorated function
    optimizer: bool = False  # an Optimizer subclass, a `step` method, or an optim/ module
    init: bool = False  # parameter initialisation code (reset_parameters, _init_weights, __init__)
    inplace_api: bool = False  # a function named `foo_`: in-place by its own contract
    module_cls: bool = False  # the class is an nn.Module (base named Module or defines forward)

    @property
    def quiet(self) -> bool:
        """True where in-place code is not an autograd problem: no_grad blocks, optimizer steps, init code."""
        return self.no_grad or self.optimizer or self.init or self.inplace_api

    @property
    def is_forward(self) -> bool:
        return self.module_cls and self.func is not None and self.func.name == "forward"


@dataclass
class Site:
    """A node of interest with its scope, enclosing statement and parent node."""

    node: ast.AST
    scope: Scope
    stmt: ast.stmt
    parent: ast.AST | None = None


@dataclass
class FileContext:
    """The parsed file, its indexes, and position conversion. Build with `FileContext.build`."""

    source: str
    path: str
    tree: ast.Module
    sites: dict[type, list[Site]] = field(default_factory=dict)
    # function node (None: module level) -> name -> assigned values; built on first use
    assignments: "_Assignments" = field(default=None)  # type: ignore[assignment]
    # class node -> attribute name -> values assigned to self.<attr>; built on first use
    class_attrs: "_ClassAttrs" = field(default=None)  # type: ignore[assignment]
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> qualified module/object
    func_scope: dict[FunctionNode, Scope] = field(default_factory=dict)
    block_of: dict[ast.stmt, tuple[list[ast.stmt], int]] = field(default_factory=dict)  # stmt -> (its block, index)
    _lines: list[str] | None = None
    data_pipeline: bool = False  # a data/transforms module: tensors there rarely require grad
    _starts: list[int] | None = None  # offset of each line start ("\n"-separated), set by the walk
    _cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, source: str, path: str = "", tree: ast.Module | None = None) -> "FileContext":
        """Parse once (raises SyntaxError; or take the caller's parse of `source`) and index everything in one walk."""
        tree = tree if tree is not None else parse(source, path)
        ctx = cls(source=source, path=path, tree=tree)
        ctx.assignments = _Assignments(tree)
        ctx.class_attrs = _ClassAttrs()
        _Walker(ctx).run()
        _built.append(weakref.ref(ctx))
        return ctx

    def release(self) -> None:
        """Let go of the answers cached on this context: the evidence there refers back to it, a
        cycle that would keep the whole tree alive until a full garbage collection."""
        self._cache.clear()

    @classmethod
    def imports_only(cls, source: str, tree: ast.Module) -> "FileContext":
        """The import aliases and assignments of a parsed file, without the indexing walk: all
        that `torch_name` and `qualname` need (the rewriter asks for nothing else)."""
        ctx = cls(source=source, path="", tree=tree)
        ctx.assignments = _Assignments(tree)
        ctx.class_attrs = _ClassAttrs()
        walker = _Walker.__new__(_Walker)
        walker.ctx = ctx
        stack = [iter(tree.body)]
        while stack:  # every statement the walk reaches, in the walk's (source) order: a later import wins
            stmt = next(stack[-1], None)
            if stmt is None:
                stack.pop()
                continue
            t = type(stmt)
            if t is ast.Import or t is ast.ImportFrom:
                walker._import(stmt)
            elif t is ast.FunctionDef or t is ast.AsyncFunctionDef or t is ast.ClassDef:
                stack.append(iter(stmt.body))
            else:
                stack.extend(iter(body) for body in reversed(nested_bodies(stmt, t)))
        return ctx

    # -- queries -------------------------------------------------------------
    def of(self, kind: type) -> list[Site]:
        """Every indexed site of an ast node type, in source order."""
        return self.sites.get(kind, [])

    def site_of(self, node: ast.AST) -> Site:
        """The indexed site of a node, for a rule going from its candidate back to the site."""
        index = self._cache.get("site_index")
        if index is None:
            index = self._cache["site_index"] = {id(s.node): s for sites in self.sites.values() for s in sites}
        return index[id(node)]

    def position(self, node: ast.AST) -> Position:
        """libcst-style start position (character column) of an ast node."""
        return Position(node.lineno, self.char_col(node.lineno, node.col_offset))

    def end_position(self, node: ast.AST) -> Position:
        end_line = node.end_lineno or node.lineno
        return Position(end_line, self.char_col(end_line, node.end_col_offset or 0))

    def char_col(self, line: int, byte_col: int) -> int:
        """Convert an ast byte column to a character column (only non-ASCII lines differ)."""
        if "ascii" not in self._cache:
            self._cache["ascii"] = self.source.isascii()
        if self._cache["ascii"]:
            return byte_col
        text = self.source_line(line)
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def _has_cr(self) -> bool:
        cr = self._cache.get("cr")
        if cr is None:
            cr = self._cache["cr"] = "\r" in self.source
        return cr

    def source_line(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        starts = self._starts
        if starts is not None and not self._has_cr():
            if 0 < line < len(starts):
                return self.source[starts[line - 1]:starts[line] - 1]
            return ""
        if self._lines is None:
            self._lines = _NEWLINE.split(self.source)
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def qualname(self, node: ast.AST) -> str | None:
        """Dotted name of a Name/Attribute chain with import aliases resolved (`F.relu` ->
        `torch.nn.functional.relu`); None for anything else (calls, subscripts)."""
        path = dotted(node)
        if path is None:
            return None
        head, dot, rest = path.partition(".")
        return (self.aliases.get(head) or _CONVENTIONS.get(head, head)) + dot + rest

    def torch_name(self) -> str | None:
        """The local name bound to the torch module, for generated code (`torch.no_grad()`)."""
        for local, target in sorted(self.aliases.items()):
            if target == "torch":
                return local
        if "torch" not in self.aliases and not self._binds("torch"):
            return None
        return "torch"

    def _binds(self, name: str) -> bool:
        return name in self.assignments.get(None, {})

    def params(self, func: FunctionNode) -> list[ast.arg]:
        a = func.args
        return [*a.posonlyargs, *a.args, *([a.vararg] if a.vararg else []), *a.kwonlyargs,
                *([a.kwarg] if a.kwarg else [])]


_last_parse: list[tuple[str, ast.Module]] = []  # the last source parsed, and its tree


def parse(source: str, path: str = "") -> ast.Module:
    """`ast.parse`, once per source text: `scan`'s analysis and `migrate`'s rewrite of a file
    both need the tree of the same string (the last one is kept until another is parsed)."""
    if _last_parse and _last_parse[0][0] is source:
        return _last_parse[0][1]
    _last_parse.clear()  # before parsing: never two large trees at once
    filename = path or "<unknown>"
    tree = (_parse_in_parts(source, filename) if len(source) >= PART_MIN_CHARS else None) \
        or ast.parse(source, filename=filename)
    _last_parse.append((source, tree))
    return tree


PART_MIN_CHARS = 256 * 1024  # smaller files parse whole
PART_CHARS = 64 * 1024  # the text each part's parse holds at once
# A line that may start a top-level statement: column 0, not a comment, not a closing bracket, not
# a clause of the compound statement above it.
_PART_START = re.compile(r"^(?![ \t\f\r\n#)\]}]|(?:else|elif|except|finally)\b)", re.M)


def _parse_in_parts(source: str, filename: str) -> ast.Module | None:
    """The tree `ast.parse(source)` gives, parsed a part of about `PART_CHARS` at a time: the
    parser's own structures for a whole file are several times the tree (5 MB of source: 830 MB
    at the peak against 320 MB for the tree alone). Parts are cut before lines that may start a
    top-level statement; a part that does not parse alone (the cut fell in a string, a bracket
    or after a decorator) takes in the next one. None when the parts do not give a whole parse
    (a syntax error, a cut that never closes, a `__future__` import that changes the grammar):
    the caller parses the file whole, with its own error."""
    if "barry_as_FLUFL" in source:
        return None
    cuts = [0]
    for m in _PART_START.finditer(source, PART_CHARS):
        if m.start() - cuts[-1] >= PART_CHARS and source[m.start() - 2:m.start() - 1] != "\\":
            cuts.append(m.start())
    if len(cuts) == 1:
        return None
    cuts.append(len(source))
    body: list[ast.stmt] = []
    line = 1  # the file line the next part starts on
    start = 0
    for end in cuts[1:]:
        if end - start > 8 * PART_CHARS:
            return None  # a cut that keeps failing (a long string at the margin): not worth retrying
        text = source[start:end]
        try:
            part = ast.parse("\n" * (line - 1) + text, filename=filename)
        except SyntaxError:
            if end == len(source):
                return None
            continue  # take in the next part
        except (ValueError, RecursionError, MemoryError):
            return None
        body.extend(part.body)
        line += text.count("\n")
        start = end
    return ast.Module(body=body, type_ignores=[])


_built: list["weakref.ref[FileContext]"] = []  # the contexts built since the last `forget_parse`


def forget_parse() -> None:
    """Drop the kept tree and the contexts built since, once their file is done. A large tree
    still alive when the interpreter exits costs more to tear down then than to free now
    (1 MB of source: ~1.5 s against 0.06 s)."""
    _last_parse.clear()
    for ref in _built:
        ctx = ref()
        if ctx is not None:
            ctx.release()
    _built.clear()


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (no alias resolution)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _base_names(cls: ast.ClassDef) -> list[str]:
    out = []
    for b in cls.bases:
        d = dotted(b)
        if d:
            out.append(d.rsplit(".", 1)[-1])
    return out


def _is_grad_off(expr: ast.AST) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)`, bare decorators."""
    if isinstance(expr, ast.Call):
        d = dotted(expr.func) or ""
        last = d.rsplit(".", 1)[-1]
        if last == "set_grad_enabled":
            return bool(expr.args) and isinstance(expr.args[0], ast.Constant) and expr.args[0].value is False
        if last == "inference_mode" and expr.args and isinstance(expr.args[0], ast.Constant):
            return expr.args[0].value is not False
        return last in _GRAD_OFF
    d = dotted(expr) or ""
    return d.rsplit(".", 1)[-1] in _GRAD_OFF


def _is_grad_on(expr: ast.AST) -> bool:
    if isinstance(expr, ast.Call):
        d = dotted(expr.func) or ""
        last = d.rsplit(".", 1)[-1]
        if last == "set_grad_enabled":
            return not (expr.args and isinstance(expr.args[0], ast.Constant) and expr.args[0].value is False)
        return last == "enable_grad"
    return False


class _Walker:
    """The single walk: statements recursively (carrying the Scope), expressions by stack."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.sites = ctx.sites
        parts = re.split(r"[\\/]", ctx.path.lower())
        self.optim_file = any("optim" in p for p in parts[:-1]) or "optim" in (parts[-1] if parts else "")
        self.init_file = bool(parts) and "init" in parts[-1] and not parts[-1].startswith("__init__")
        ctx.data_pipeline = any(p in _PIPELINE_DIRS for p in parts[:-1])

    def _interesting_lines(self) -> list[int]:
        source = self.ctx.source
        starts = [0]
        starts.extend(accumulate(map((1).__add__, map(len, source.split("\n")))))
        self.ctx._starts = starts
        lines: list[int] = []
        last = -1
        for m in _INTERESTING.finditer(source):
            line = bisect_right(starts, m.start())
            if line != last:
                lines.append(line)
                last = line
        return lines

    def run(self) -> None:
        self.lines = self._interesting_lines()
        self.hot_lines = frozenset(self.lines)
        scope = Scope(optimizer=self.optim_file, init=self.init_file)
        self._block(self.ctx.tree.body, scope)

    # -- statements ---------------------------------------------------------
    def _block(self, body: list[ast.stmt], scope: Scope) -> None:
        for i, stmt in enumerate(body):
            self.body, self.index = body, i
            self._stmt(stmt, scope)

    def _add_stmt(self, kind: type, stmt: ast.stmt, scope: Scope) -> None:
        self.ctx.block_of[stmt] = (self.body, self.index)
        self._add(kind, stmt, scope, stmt)

    def _add(self, kind: type, node: ast.AST, scope: Scope, stmt: ast.stmt, parent: ast.AST | None = None) -> None:
        lst = self.sites.get(kind)
        if lst is None:
            lst = self.sites[kind] = []
        lst.append(Site(node, scope, stmt, parent))

    def _hot(self, node: ast.AST) -> bool:
        """Does any line of `node` hold text an indexed expression needs (see _INTERESTING)?"""
        first, last = node.lineno, node.end_lineno
        if first == last or last is None:
            return first in self.hot_lines
        lines = self.lines
        i = bisect_left(lines, first)
        return i != len(lines) and lines[i] <= last

    def _stmt(self, stmt: ast.stmt, scope: Scope) -> None:
        t = type(stmt)
        if t is ast.Assign:
            hot = self._hot(stmt)
            if hot or any(type(tgt) is ast.Subscript for tgt in stmt.targets):
                self._add_stmt(t, stmt, scope)
            if hot:
                for tgt in stmt.targets:
                    self._walk(tgt, scope, stmt)
                self._walk(stmt.value, scope, stmt)
        elif t is ast.AugAssign:
            self._add_stmt(t, stmt, scope)
            if self._hot(stmt):
                self._walk(stmt.target, scope, stmt)
                self._walk(stmt.value, scope, stmt)
        elif t is ast.Expr or t is ast.Return:
            if stmt.value is not None and self._hot(stmt):
                self._add_stmt(t, stmt, scope)
                self._walk(stmt.value, scope, stmt)
        elif t is ast.AnnAssign:
            if stmt.value is not None:
                self._exprs(stmt.value, scope, stmt)
            self._exprs(stmt.target, scope, stmt)
        elif t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            self._function(stmt, scope)
        elif t is ast.ClassDef:
            self._class(stmt, scope)
        elif t is ast.With or t is ast.AsyncWith:
            inner = scope
            for item in stmt.items:
                self._exprs(item.context_expr, scope, stmt)
                if _is_grad_off(item.context_expr):
                    inner = _replace(inner, no_grad=True)
                elif _is_grad_on(item.context_expr):
                    inner = _replace(inner, no_grad=False)
            self._block(stmt.body, inner)
        elif t is ast.For or t is ast.AsyncFor:
            self._exprs(stmt.iter, scope, stmt)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif t is ast.If or t is ast.While:
            self._exprs(stmt.test, scope, stmt)
            self._block(stmt.body, scope)
            self._block(stmt.orelse, scope)
        elif t is ast.Try or t is _TRY_STAR:
            self._block(stmt.body, scope)
            for h in stmt.handlers:
                self._block(h.body, scope)
            self._block(stmt.orelse, scope)
            self._block(stmt.finalbody, scope)
        elif t is ast.Import or t is ast.ImportFrom:
            self._import(stmt)
        elif t is _MATCH:
            self._exprs(stmt.subject, scope, stmt)
            for case in stmt.cases:
                self._block(case.body, scope)
        elif t in (ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal):
            return
        elif self._hot(stmt):
            for child in ast.iter_child_nodes(stmt):
                self._walk(child, scope, stmt)

    def _function(self, fn: FunctionNode, outer: Scope) -> None:
        for d in fn.decorator_list:
            self._exprs(d, outer, fn)
        for d in fn.args.defaults + [d for d in fn.args.kw_defaults if d is not None]:
            self._exprs(d, outer, fn)
        name = fn.name
        in_module_cls = outer.module_cls and outer.func is None
        lname = name.lower()
        init = outer.init or name in _INIT_NAMES or (name == "__init__" and in_module_cls) or (
            name != "__init__" and any(w in lname for w in _SETUP_WORDS))
        params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
        scope = Scope(
            func=fn,
            cls=outer.cls if outer.func is None else outer.cls,
            no_grad=outer.no_grad or any(_is_grad_off(d) for d in fn.decorator_list),
            optimizer=outer.optimizer or (name == "step" and outer.cls is not None),
            init=init,
            inplace_api=outer.inplace_api or (name.endswith("_") and not name.endswith("__"))
            or "inplace" in params,
            module_cls=outer.module_cls,
        )
        self.ctx.func_scope[fn] = scope
        self._block(fn.body, scope)

    def _class(self, cls: ast.ClassDef, outer: Scope) -> None:
        for b in cls.bases:
            self._exprs(b, outer, cls)
        bases = _base_names(cls)
        defines_forward = any(
            isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "forward" for s in cls.body)
        module_cls = defines_forward or any(b == "Module" or b.endswith("Module") for b in bases)
        optimizer = outer.optimizer or any(b.endswith("Optimizer") for b in bases)
        inplace_api = outer.inplace_api or any(
            isinstance(st, ast.FunctionDef) and st.name == "__init__"
            and any(a.arg == "inplace" for a in (*st.args.args, *st.args.kwonlyargs)) for st in cls.body)
        scope = Scope(func=None, cls=cls, no_grad=outer.no_grad, optimizer=optimizer, init=outer.init,
                      inplace_api=inplace_api, module_cls=module_cls)
        self._block(cls.body, scope)

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        aliases = self.ctx.aliases
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    head = a.name.split(".", 1)[0]
                    aliases[head] = head
        elif stmt.module and not stmt.level:
            for a in stmt.names:
                aliases[a.asname or a.name] = f"{stmt.module}.{a.name}"

    # -- expressions --------------------------------------------------------
    def _exprs(self, root: ast.AST, scope: Scope, stmt: ast.stmt) -> None:
        """Index the Calls, dict displays, `.data` attributes and `:=` targets under `root` (hot lines only)."""
        if self._hot(root):
            self._walk(root, scope, stmt)

    def _walk(self, root: ast.AST, scope: Scope, stmt: ast.stmt) -> None:
        stack: list[tuple[ast.AST, ast.AST | None]] = [(root, None)]
        add = self._add
        Call, Attribute, NamedExpr, Dict = ast.Call, ast.Attribute, ast.NamedExpr, ast.Dict
        AST = ast.AST
        while stack:
            node, parent = stack.pop()
            t = type(node)
            if t is Call:
                add(Call, node, scope, stmt, parent)
            elif t is Dict:
                add(Dict, node, scope, stmt, parent)
            elif t is Attribute:
                if node.attr == "data":
                    add(Attribute, node, scope, stmt, parent)
            elif t is NamedExpr:
                self.ctx.assignments.walrus(scope.func, node)
            for name in node._fields:
                v = getattr(node, name, None)
                if type(v) is list:
                    for c in v:
                        if isinstance(c, AST):
                            stack.append((c, node))
                elif isinstance(v, AST):
                    stack.append((v, node))


_TRY_STAR = getattr(ast, "TryStar", ast.Try)
_MATCH = getattr(ast, "Match", None)


def _replace(scope: Scope, **changes: object) -> Scope:
    from dataclasses import replace

    return replace(scope, **changes)


def _record(table: dict[str, list[ast.AST]], target: ast.AST, value: ast.AST, unpack: bool = False) -> None:
    """Record `target = value`; names bound by unpacking / for / with get `Starred(value)`."""
    if isinstance(target, ast.Name):
        table.setdefault(target.id, []).append(_starred(value) if unpack else value)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _record(table, elt.value if isinstance(elt, ast.Starred) else elt, value, True)


def _starred(value: ast.AST) -> ast.Starred:
    node = ast.Starred(value=value, ctx=ast.Load())
    node.lineno = getattr(value, "lineno", 0)
    return node


def nested_bodies(stmt: ast.stmt, t: type) -> tuple[list[ast.stmt], ...]:
    """The statement lists directly inside a compound statement (functions and classes aside)."""
    if t is ast.For or t is ast.AsyncFor or t is ast.If or t is ast.While:
        return (stmt.body, stmt.orelse)
    if t is ast.With or t is ast.AsyncWith:
        return (stmt.body,)
    if t is ast.Try or t is _TRY_STAR:
        return (stmt.body, *[h.body for h in stmt.handlers], stmt.orelse, stmt.finalbody)
    if t is _MATCH:
        return tuple(case.body for case in stmt.cases)
    return ()


def _collect(body: list[ast.stmt], table: dict[str, list[ast.AST]]) -> None:
    """Assignments in a function (or module) body, not descending into nested functions."""
    for stmt in body:
        t = type(stmt)
        if t is ast.Assign:
            for tgt in stmt.targets:
                _record(table, tgt, stmt.value)
        elif t is ast.AnnAssign:
            if stmt.value is not None:
                _record(table, stmt.target, stmt.value)
        elif t is ast.For or t is ast.AsyncFor:
            _record(table, stmt.target, _starred(stmt.iter))
        elif t is ast.With or t is ast.AsyncWith:
            for item in stmt.items:
                if item.optional_vars is not None:
                    _record(table, item.optional_vars, item.context_expr, True)
        for inner in (stmt.body,) if t is ast.ClassDef else nested_bodies(stmt, t):
            _collect(inner, table)


class _Assignments:
    """function node (None: module) -> {name: [assigned values]}, computed on first use.

    Most files never need it (no finding asks for evidence), so the main walk does not
    pay for it.
    """

    def __init__(self, tree: ast.Module) -> None:
        self._tree = tree
        self._tables: dict[FunctionNode | None, dict[str, list[ast.AST]]] = {}
        self._walrus: list[tuple[FunctionNode | None, ast.NamedExpr]] = []

    def walrus(self, func: FunctionNode | None, node: ast.NamedExpr) -> None:
        self._walrus.append((func, node))

    def get(self, func: FunctionNode | None, default: object = None) -> dict[str, list[ast.AST]]:
        table = self._tables.get(func)
        if table is None:
            table = {}
            _collect(func.body if func is not None else self._tree.body, table)
            for f, node in self._walrus:
                if f is func:
                    _record(table, node.target, node.value)
            self._tables[func] = table
        return table


def _collect_self_attrs(body: list[ast.stmt], table: dict[str, list[ast.AST]]) -> None:
    """`self.attr = value` in any method (statements only: no expression walk)."""
    for stmt in body:
        t = type(stmt)
        if t is ast.Assign or t is ast.AnnAssign:
            if stmt.value is None:
                continue
            for tgt in (stmt.targets if t is ast.Assign else [stmt.target]):
                for x in (tgt.elts if isinstance(tgt, (ast.Tuple, ast.List)) else (tgt,)):
                    if type(x) is ast.Attribute and type(x.value) is ast.Name and x.value.id == "self":
                        table.setdefault(x.attr, []).append(stmt.value)
            continue
        functions = t is ast.FunctionDef or t is ast.AsyncFunctionDef
        for inner in (stmt.body,) if functions else nested_bodies(stmt, t):
            _collect_self_attrs(inner, table)


class _ClassAttrs:
    """class node -> {attr: [values assigned to self.attr in its methods]}, on first use."""

    def __init__(self) -> None:
        self._tables: dict[ast.ClassDef, dict[str, list[ast.AST]]] = {}

    def get(self, cls: ast.ClassDef, default: object = None) -> dict[str, list[ast.AST]]:
        table = self._tables.get(cls)
        if table is None:
            table = {}
            _collect_self_attrs(cls.body, table)
            self._tables[cls] = table
        return table
