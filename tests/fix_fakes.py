"""Fakes for the fixer's unit tests: a locate/rewrite pair for `x += y` and a scripted runtime."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from inplace_fix.report import Problem, Report
from inplace_fix.transforms.base import Position, RewriteResult

if TYPE_CHECKING:  # the planner's tests need no runtime client
    from inplace_fix.fixer.runtime_client import RunResult

_IADD = re.compile(r"^(?P<indent>[ \t]*)(?P<name>\w+) \+= (?P<rhs>.+?)(?P<eol>\r?\n?)$")


def fake_locate(source: str, code: str, line: int, col: int | None) -> Position | None:
    """IPF001 on a `name += expr` line; IPF004 on a line with inplace=True; else nothing."""
    lines = source.splitlines(keepends=True)
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    if code == "IPF001" and (m := _IADD.match(text)):
        return Position(line, len(m.group("indent")))
    if code == "IPF004" and "inplace=True" in text:
        return Position(line, text.index("inplace=True"))
    if code == "IPF005" and ".data" in text:
        return Position(line, text.index(".data"))
    return None


def fake_rewrite(source: str, targets: Mapping[str, Sequence[Position]]) -> RewriteResult:
    lines = source.splitlines(keepends=True)
    applied = []
    for code, positions in targets.items():
        for pos in positions:
            text = lines[pos.line - 1]
            if code == "IPF001" and (m := _IADD.match(text)):
                lines[pos.line - 1] = f"{m['indent']}{m['name']} = {m['name']} + {m['rhs']}{m['eol']}"
                applied.append(pos)
            elif code == "IPF004" and "inplace=True" in text:
                lines[pos.line - 1] = text.replace("inplace=True", "inplace=False")
                applied.append(pos)
            elif code == "IPF005" and ".data" in text:
                lines[pos.line - 1] = text.replace(".data", ".detach()", 1)
                applied.append(pos)
    return RewriteResult(source="".join(lines), applied=tuple(sorted(applied)))


def problem(file: Path | str, line: int, rule: str = "IPF001", kind: str = "saved-tensor-modified",
            **extra: Any) -> dict[str, Any]:
    site = {"file": str(file), "line": line, "col": 4, "code": "", "op": "add_"}
    out = {"kind": kind, "error": "one of the variables needed ...", "tensor": {"name": "x"},
           "saved_at": {"file": str(file), "line": max(1, line - 1), "col": 4, "code": "", "op": "relu"},
           "modified_at": site, "construction_at": None, "library_frames": [], "rule": rule}
    out.update(extra)
    return out


def parsed(*problems: Mapping[str, Any], cwd: str | None = None) -> list[Problem]:
    """The runtime's problem dicts as the engine reads them (`Problem.from_json`)."""
    return [Problem.from_json(data, cwd or os.getcwd()) for data in problems]


def parsed_report(data: Mapping[str, Any], cwd: str | None = None) -> Report:
    """A runtime report dict as the engine reads it (`Report.from_json`)."""
    return Report.from_json(data, cwd or os.getcwd())


GOOD = {"backward_ok": True, "losses_equal": True, "grads_equal": True, "max_grad_diff": 0.0,
        "backward_calls": 3, "same_leaves": True}


class ScriptedRuntime:
    """Returns one prepared report per call (round 0 = the diagnosis/reference run).

    Each report is a runtime JSON dict, parsed as the launcher parses it (relative to the
    request's cwd) and kept as `RunResult.data`.
    """

    def __init__(self, reports: Sequence[dict[str, Any] | Callable[[], dict[str, Any]] | None],
                 timed_out: Sequence[bool] = ()) -> None:
        self.reports = list(reports)
        self.timed_out = list(timed_out)
        self.calls: list[dict[str, Any]] = []
        self.targets: list[Any] = []  # the request of each call (its `overlay` is the edited sources)

    def __call__(self, target: Any, report: Path, **flags: Any) -> RunResult:
        from inplace_fix.fixer.runtime_client import RunResult

        index = len(self.calls)
        self.calls.append(dict(flags))
        self.targets.append(target)
        data = self.reports[index]
        data = data() if callable(data) else data
        slow = self.timed_out[index] if index < len(self.timed_out) else False
        overlay = getattr(target, "overlay", None)
        if data is not None and overlay and "overlay" not in data:  # the real runtime reads every edited file
            data = {**data, "overlay": {"served": sorted(json.loads(Path(overlay).read_text())["files"])}}
        parsed = None if data is None else Report.from_json(data, getattr(target, "cwd", None) or os.getcwd())
        return RunResult(parsed, None if slow else 0, "", 0.01, slow, data)


def report(problems: Sequence[dict[str, Any]] = (), verification: dict[str, Any] | None = None,
           backward_calls: int = 3, **extra: Any) -> dict[str, Any]:
    out = {"tool": "inplace-fix", "status": "found" if problems else "clean", "problems": list(problems),
           "backward_calls": backward_calls, "script_error": None, "verification": verification}
    out.update(extra)
    return out
