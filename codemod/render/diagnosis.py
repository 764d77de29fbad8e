"""The diagnosis a person reads: both lines, carets under the operations, why, and the fix.

Code frames look like a compiler's (`file:line:col`, the source line, a caret under
the operation) because that is what editors and people already parse. Columns are
printed 1-based here; everything inside the code is 0-based.
Color only on a terminal (inplace_fix.console): the text is identical without it.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import textwrap
from collections.abc import Sequence
from functools import lru_cache

from inplace_fix.console import Console
from inplace_fix.diagnosis import Diagnosis
from inplace_fix.paths import display_path
from inplace_fix.render.diff import colorize
from inplace_fix.report import Problem, Site
from inplace_fix.request import Request

__all__ = ["render_diagnosis", "render_problem", "caret_span", "why_sentence", "tensor_summary", "apply_command"]

LIBRARY_FRAMES_SHOWN = 3  # the innermost ones: where the write happened

_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
if hasattr(ast, "TryStar"):
    _COMPOUND = (*_COMPOUND, ast.TryStar)
if hasattr(ast, "Match"):
    _COMPOUND = (*_COMPOUND, ast.Match)


@lru_cache(maxsize=64)
def _parsed(path: str, mtime: float) -> tuple[list[str], ast.AST | None]:
    try:
        from inplace_fix import fileio

        text = fileio.read_source(path).text
    except Exception:  # noqa: BLE001 - a frame we cannot read is shown from the report's code
        return [], None
    try:
        tree: ast.AST | None = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    return text.splitlines(), tree


def _source(path: str) -> tuple[list[str], ast.AST | None]:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return [], None
    return _parsed(path, mtime)


def caret_span(site: Site) -> tuple[str, int, int]:
    """(source line, start, end) in characters: the largest expression or simple statement
    that starts at the site's column on that line; the whole stripped line otherwise."""
    lines, tree = _source(site.path)
    text = lines[site.line - 1] if 0 < site.line <= len(lines) else site.code
    text = text.rstrip("\r\n")
    stripped = len(text) - len(text.lstrip())
    whole = (text, stripped, max(len(text.rstrip()), stripped + 1))
    if site.col is None or tree is None or not lines:
        return whole
    line_bytes = text.encode("utf-8")
    byte_col = len(text[: site.col].encode("utf-8"))
    best_end = -1
    for node in ast.walk(tree):
        if not isinstance(node, (ast.expr, ast.stmt)) or isinstance(node, _COMPOUND):
            continue
        if getattr(node, "lineno", None) != site.line or node.col_offset != byte_col:
            continue
        end = node.end_col_offset if node.end_lineno == site.line else len(line_bytes.rstrip())
        best_end = max(best_end, end or 0)
    if best_end <= byte_col:
        return whole
    end_char = len(line_bytes[:best_end].decode("utf-8", "ignore"))
    return text, site.col, end_char


def _short_path(site: Site, cwd: str | None) -> str:
    path = site.file(cwd)
    marker = "site-packages" + os.sep
    if os.path.isabs(path) and marker in path:
        return "..." + os.sep + path[path.index(marker):]
    return path


def _frame(site: Site, label: str, console: Console, color: str, width: int = 0,
           cwd: str | None = None) -> list[str]:
    """`--> file:line:col  label`, the numbered source line and a caret under the operation."""
    text, start, end = caret_span(site)
    col = (site.col if site.col is not None else start) + 1
    number = str(site.line).rjust(width)
    pad = " " * len(number)
    gutter = console.style("|", fg="blue")
    out = [f"  {pad}{console.style('-->', fg='blue')} {_short_path(site, cwd)}:{site.line}:{col}",
           f"  {pad} {gutter}",
           f"  {console.style(number, fg='blue')} {gutter} {text.expandtabs(1)}"]
    caret = " " * len(text[:start].expandtabs(1)) + "^" * max(1, end - start)
    out.append(f"  {pad} {gutter} {console.style(caret + ' ' + label, fg=color, bold=True)}")
    return out


_NOSITE = Site("", 0)
WIDTH = 100  # prose is wrapped to this many columns


def _wrap(text: str, indent: str, first: str = "") -> list[str]:
    return textwrap.wrap(first + text, width=WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent + first]


def _plumbing(frame: Site) -> bool:
    """nn.Module.__call__'s own frames: they say nothing about where the write happened."""
    return frame.path.replace(os.sep, "/").endswith("torch/nn/modules/module.py")


def tensor_summary(problem: Problem) -> str:
    """`h: float32 [2, 4] on cpu` from the report's tensor (name guessed from the line when absent)."""
    t = problem.tensor
    name = t.get("name") or _guess_name(problem)
    shape = t.get("shape")
    parts = []
    if t.get("dtype"):
        parts.append(str(t["dtype"]))
    if shape is not None:
        parts.append("[" + ", ".join(str(x) for x in shape) + "]")
    desc = " ".join(parts) or "tensor"
    if t.get("device"):
        desc += f" on {t['device']}"
    others = [str(n) for n in t.get("other_parameters") or ()]
    if others:  # one write changed several saved weights: one problem names them all
        shown = ", ".join(f"`{n}`" for n in others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
        desc += f"; the same write also changed {shown}"
    return f"`{name}` ({desc})" if name else f"a tensor ({desc})"


_TARGET = re.compile(r"^\s*(?:for .* in .*:\s*)?([A-Za-z_][\w.]*?)(?:\.data)?\s*(?:\[|\.\w+_\(|[-+*/@%&|^]=|//=|\*\*=)")


def _guess_name(problem: Problem) -> str | None:
    site = problem.modified_at
    if site is None:
        return None
    match = _TARGET.match(site.code)
    return match.group(1) if match else None


def _versions(problem: Problem) -> str:
    t = problem.tensor
    before, now = t.get("version_saved"), t.get("version_now")
    if before is None or now is None:
        return ""
    if before == now:  # a write through .data: its own version counter, so nothing moved
        return f" (version still {now}: the write bypassed autograd's version counter)"
    return f" (version {before} -> {now})"


def why_sentence(problem: Problem) -> str:
    """One sentence on why this breaks backward, per kind."""
    saver = (problem.saved_at.op if problem.saved_at else None) or "the operation that saved it"
    writer = (problem.modified_at.op if problem.modified_at else None) or "an in-place operation"
    if problem.kind == "leaf-modified":
        return (f"the tensor is a leaf that requires grad: {writer} would overwrite the value autograd "
                "differentiates with respect to, so torch refuses it outside `torch.no_grad()`.")
    if problem.kind == "view-modified":
        return (f"the tensor is a view that autograd cannot rebase (made by a multi-output op, a custom "
                f"Function or under no_grad); {writer} on it would leave its base's gradient wrong, so "
                "torch forbids it.")
    if problem.kind == "silent-data-mutation":
        return (f"{writer} wrote through `.data` (or another alias with its own version counter) into "
                f"memory {saver} saved for backward: torch raises nothing and backward silently computes "
                "gradients from the overwritten values.")
    return (f"{saver} keeps this tensor to compute its gradient; {writer} overwrote it in place before "
            "backward ran, so the gradient would come from the wrong values, and torch stops instead.")


def render_problem(problem: Problem, index: int, total: int, console: Console, cwd: str | None = None) -> list[str]:
    head = f"problem {index} of {total}: {problem.kind}" if total > 1 else f"problem: {problem.kind}"
    out = [console.style(head, fg="red", bold=True) + f" -- {tensor_summary(problem)}"]
    if problem.ranks:  # a distributed run: one problem, however many workers hit it
        out.append(f"  in rank{'s' if len(problem.ranks) > 1 else ''} {', '.join(map(str, problem.ranks))}")
    if problem.error:
        out += _wrap(problem.error, "  ", "torch: ")
    elif problem.kind == "silent-data-mutation":
        out.append("  torch: (no error: the gradients are silently wrong)")
    out.append("")
    width = max(len(str(s.line)) for s in (problem.saved_at, problem.view_created_at, problem.modified_at,
                                            problem.construction_at, _NOSITE) if s is not None)
    if problem.view_created_at is not None and problem.view_created_at != problem.saved_at:
        op = problem.view_created_at.op
        out += _frame(problem.view_created_at, f"the view was created here{f' by {op}' if op else ''}",
                      console, "yellow", width, cwd)
        out.append("")
    if problem.saved_at is not None:
        label = f"saved here by {problem.saved_at.op or 'this operation'}"
        out += _frame(problem.saved_at, label, console, "yellow", width, cwd)
        out.append("")
    if problem.modified_at is not None:
        verb = "modified here"
        label = f"{verb} by {problem.modified_at.op or 'an in-place operation'}{_versions(problem)}"
        out += _frame(problem.modified_at, label, console, "red", width, cwd)
        if problem.library_frames:
            frames = tuple(f for f in problem.library_frames if not _plumbing(f)) or problem.library_frames
            shown = frames[-LIBRARY_FRAMES_SHOWN:]
            more = f" ({len(frames) - len(shown)} outer frames not shown)" if len(frames) > len(shown) else ""
            out.append(f"      inside a library, beneath that line{more}:")
            for frame in shown:
                out.append(f"        {_short_path(frame, cwd)}:{frame.line}  {frame.code.strip()}"
                           + (f"  ({frame.op})" if frame.op else ""))
        out += _other_writes(problem, cwd)
        out.append("")
    if problem.construction_at is not None:
        module = problem.get("module")
        what = f"the in-place {module}" if module else "the in-place module"
        out += _frame(problem.construction_at, f"{what} was built here", console, "magenta", width, cwd)
        out.append("")
    if problem.needed_by:
        out += _wrap(problem.needed_by, "  ")
    out += _wrap(why_sentence(problem), "  ", "why: ")
    out.append("")
    fix = problem.fix
    if fix is not None:
        out.append(console.style(f"  proposed fix: {fix.rule} {fix.title}", fg="green", bold=True)
                   + f" ({display_path(fix.path, cwd)}:{fix.line})")
        out += ["    " + line for line in colorize(fix.diff, console).splitlines()]
        out += _other_candidates(problem)
    else:
        out.append(console.style("  no automatic fix; change it by hand:", fg="yellow", bold=True))
        out += _wrap(problem.why_unfixable or "make the in-place operation out of place.", "    ")
    return out


def _other_candidates(problem: Problem) -> list[str]:
    """How many further fixes --apply would try if the proposed one does not verify, and which."""
    others = [a for a in problem.attempts if a.status == "untried"]
    if not others:
        return []
    noun = "candidate" if len(others) == 1 else "candidates"
    kinds = ", ".join(dict.fromkeys(a.strategy for a in others))
    them = "it" if len(others) == 1 else "them in turn"
    return _wrap(f"{len(others)} other {noun} ({kinds}): --apply tries {them} if this one does not verify", "    ")


def _other_writes(problem: Problem, cwd: str | None) -> list[str]:
    """The writes after the first that also moved the version: each is a line to change too."""
    return [f"  also modified at {_short_path(site, cwd)}:{site.line} `{site.code.strip()}`"
            for site in problem.frames.get("also_modified_at", ())]


def _calls(n: int) -> str:
    return f"{n} backward call" + ("" if n == 1 else "s")


def render_diagnosis(diagnosis: Diagnosis, console: Console, apply_options: Sequence[str] | None = None) -> str:
    """The whole human report for a dry run (clean, found, script error, timeout).

    `apply_options`: the options the user typed (`--steps 5`), repeated in the suggested
    `--apply` command; None takes the request's non-default ones.
    """
    target = diagnosis.request.target
    if diagnosis.status == "clean":
        calls = diagnosis.backward_calls
        if calls == 0:
            tail = "; note: the script made no backward call, so nothing was checked"
        elif calls < diagnosis.request.steps:
            tail = f" ({_calls(calls)}; the script ended before {diagnosis.request.steps})"
        else:
            tail = f" ({_calls(calls)} checked)"
        return console.style(f"{target}: no in-place problem found", fg="green", bold=True) + tail + "\n"
    if diagnosis.status == "timeout":
        return console.style(f"{target}: {diagnosis.message}", fg="red", bold=True) + "\n"
    if diagnosis.status == "script-error" and not diagnosis.problems:
        err = diagnosis.script_error or {}
        what = f"{err.get('type')}: {err.get('message')}" if err.get("type") else diagnosis.message
        where = "its traceback is above" if err.get("traceback") else "its output is above"
        return (console.style(f"{target}: the script failed for another reason", fg="red", bold=True)
                + f" ({what}); {where}.\n")
    problems: Sequence[Problem] = diagnosis.problems
    n = len(problems)
    when = f" after {_calls(diagnosis.backward_calls)}" if diagnosis.backward_calls else ""
    out = [console.style(f"{target}: {n} in-place problem{'s' if n != 1 else ''} found{when}",
                         fg="red", bold=True), ""]
    for index, problem in enumerate(problems, 1):
        out += render_problem(problem, index, n, console, diagnosis.request.cwd)
        out.append("")
    if any(p.fix is not None for p in problems):
        keeps = "backward passes with the same loss and gradients"
        if any(p.fix is not None and p.kind == "silent-data-mutation" for p in problems):
            keeps += (" (a `.data` write made visible changes the gradients on purpose: then the first "
                      "loss must be unchanged and a float64 finite-difference check must confirm them)")
        command = apply_command(diagnosis.request, apply_options).replace(" ", _UNBROKEN)
        out += [line.replace(_UNBROKEN, " ") for line in
                _wrap(f"dry run: nothing was written. `{command}` rewrites, "
                      f"re-runs the script and keeps the edit only if {keeps}.", "")]
    return "\n".join(out).rstrip("\n") + "\n"


_UNBROKEN = "\u00a0"  # the command's spaces while the prose is wrapped: one command is never cut in two


def apply_command(request: Request, options: Sequence[str] | None = None) -> str:
    """The `--apply` command for this run, shell-quoted: the same target, options and script arguments."""
    target = ["run", "-m", request.module] if request.module else [request.target]
    if options is None:
        options = request_options(request)
    tail = ["--", *request.args] if request.args else []
    return " ".join(shlex.quote(token) for token in ["inplace-fix", *target, *options, "--apply", *tail])


def request_options(request: Request) -> list[str]:
    """The request's options that differ from the defaults (without the command line that made it)."""
    default = Request()
    out: list[str] = []
    if request.steps != default.steps:
        out += ["--steps", str(request.steps)]
    if request.timeout != default.timeout:
        out += ["--timeout", format_seconds(request.timeout)]
    if request.anomaly:
        out.append("--anomaly")
    return out


def format_seconds(value: float) -> str:
    """`60` for 60.0, `0.5` for 0.5: the number as a person types it, exactly."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
