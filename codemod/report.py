"""The one report model: problem, site, fix, round, verification, report; and its JSON.

Why one model: the runtime writes its findings as JSON (it runs in the user's
interpreter and shares no code with the engine); everything on this side reads that
file through `read_runtime_report`, works on these frozen values, and prints the
JSON contract through `Report.to_json` only. The contract may grow new keys, never
lose or rename one: `tool`, `version`, `script`, `status`, `problems` (each with
`kind`, `error`, `tensor`, `saved_at`, `modified_at`, `fix`, `why_unfixable`),
`verification`. Paths are absolute inside the model and relative to the current
directory (when under it) in JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inplace_fix import __version__
from inplace_fix.paths import display_path

__all__ = ["Site", "Fix", "Attempt", "Problem", "Round", "Report", "read_runtime_report", "read_runtime_json", "dumps",
           "SITE_KEYS", "SITE_LIST_KEYS"]

# The runtime's problem fields that hold one site, and those that hold a list of sites.
SITE_KEYS = ("saved_at", "modified_at", "construction_at", "alias_at", "data_at", "view_created_at",
             "backward_at", "inplace_set_at")
SITE_LIST_KEYS = ("library_frames", "construction_stack", "also_modified_at")


def _absolute(file: str, cwd: str) -> str:
    return file if os.path.isabs(file) else os.path.normpath(os.path.join(cwd, file))


@dataclass(frozen=True)
class Site:
    """A code location: `path` absolute, 1-based `line`, 0-based character `col`.

    `data` keeps every field the runtime gave (`function`, ...) so JSON passes them on.
    """

    path: str
    line: int
    col: int | None = None
    code: str = ""
    op: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any, cwd: str, need_line: bool = True) -> "Site | None":
        """None for a site the runtime could not name (no line); a stack frame needs only its file."""
        if not isinstance(data, Mapping) or (data.get("line") is None and need_line) or not data.get("file"):
            return None
        path = _absolute(str(data.get("file") or ""), cwd)
        col = data.get("col")
        return cls(path=path, line=int(data.get("line") or 0), col=int(col) if isinstance(col, int) else None,
                   code=str(data.get("code") or ""), op=data.get("op"), data={**data, "file": path})

    def file(self, cwd: str | None = None) -> str:
        """The path as shown to people: relative to `cwd` when it lies under it."""
        return display_path(self.path, cwd)

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        out = dict(self.data) or {"line": self.line, "col": self.col, "code": self.code, "op": self.op}
        out["file"] = self.file(cwd)
        return out


@dataclass(frozen=True)
class Fix:
    """The rewrite for one problem: rule `rule` on the node at (line, col) of `path`."""

    rule: str
    path: str
    line: int
    col: int
    title: str
    diff: str
    site: str = ""  # which runtime site the node was found from: modified_at, construction_at, ...
    strategy: str = ""  # how it fixes: out-of-place, inplace-flag, config-literal, alias, no-grad, detach, clone-at-save

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        out = {"rule": self.rule, "file": display_path(self.path, cwd), "line": self.line, "col": self.col,
               "title": self.title, "diff": self.diff}
        if self.site:
            out["site"] = self.site
        if self.strategy:
            out["strategy"] = self.strategy
        return out

    @classmethod
    def from_json(cls, data: Any, cwd: str) -> "Fix | None":
        if not isinstance(data, Mapping) or not data.get("rule"):
            return None
        return cls(str(data["rule"]), _absolute(str(data.get("file") or ""), cwd), int(data.get("line") or 0),
                   int(data.get("col") or 0), str(data.get("title") or ""), str(data.get("diff") or ""),
                   str(data.get("site") or ""), str(data.get("strategy") or ""))


@dataclass(frozen=True)
class Attempt:
    """One candidate fix for a problem, and what became of it.

    `status`: verified (kept), kept (accepted, and the re-run went on to another problem),
    rejected (the re-run refuted it: `why` says how), declined
    (the rule left the node alone), untried (another candidate was kept first, or the
    `--max-candidates` budget ran out), proposed (a dry run: not run yet).
    """

    rule: str
    path: str
    line: int
    col: int
    title: str
    strategy: str
    status: str
    why: str = ""

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        return {"rule": self.rule, "file": display_path(self.path, cwd), "line": self.line, "col": self.col,
                "title": self.title, "strategy": self.strategy, "status": self.status, "why": self.why or None}

    @classmethod
    def from_json(cls, data: Any, cwd: str) -> "Attempt | None":
        if not isinstance(data, Mapping) or not data.get("rule"):
            return None
        return cls(str(data["rule"]), _absolute(str(data.get("file") or ""), cwd), int(data.get("line") or 0),
                   int(data.get("col") or 0), str(data.get("title") or ""), str(data.get("strategy") or ""),
                   str(data.get("status") or ""), str(data.get("why") or ""))


@dataclass(frozen=True)
class Problem:
    """One problem the runtime found, its sites parsed, with the fix (or why there is none).

    `data` is the runtime's problem as it wrote it (every site's file absolute): the
    fields this model does not name (`grad_of`, `backward_call`, `module`, ...) are read
    with `get` and pass through to JSON unchanged.
    """

    kind: str
    error: str | None = None
    tensor: Mapping[str, Any] = field(default_factory=dict)
    rule: str | None = None
    sites: Mapping[str, Site] = field(default_factory=dict)
    frames: Mapping[str, tuple[Site, ...]] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    fix: Fix | None = None
    why_unfixable: str | None = None
    attempts: tuple[Attempt, ...] = ()  # every candidate fix, in the order tried (JSON: `candidates`)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], cwd: str) -> "Problem":
        sites = {key: site for key in SITE_KEYS if (site := Site.from_json(data.get(key), cwd)) is not None}
        frames = {key: tuple(s for s in (Site.from_json(f, cwd, need_line=False) for f in data.get(key) or ()) if s)
                  for key in SITE_LIST_KEYS}
        absolute = dict(data)
        for key, site in sites.items():
            absolute[key] = dict(site.data)
        for key in SITE_LIST_KEYS:
            absolute[key] = [dict(s.data) for s in frames[key]]
        return cls(kind=str(data.get("kind") or "saved-tensor-modified"), error=data.get("error"),
                   tensor=dict(data.get("tensor") or {}), rule=data.get("rule") or None, sites=sites,
                   frames=frames, data=absolute, fix=Fix.from_json(data.get("fix"), cwd),
                   why_unfixable=data.get("why_unfixable"),
                   attempts=tuple(a for a in (Attempt.from_json(x, cwd) for x in data.get("candidates") or ()) if a))

    # -- the sites, by name -----------------------------------------------------
    def site(self, key: str) -> Site | None:
        return self.sites.get(key)

    @property
    def saved_at(self) -> Site | None:
        return self.sites.get("saved_at")

    @property
    def modified_at(self) -> Site | None:
        return self.sites.get("modified_at")

    @property
    def construction_at(self) -> Site | None:
        return self.sites.get("construction_at")

    @property
    def view_created_at(self) -> Site | None:
        return self.sites.get("view_created_at")

    @property
    def library_frames(self) -> tuple[Site, ...]:
        return self.frames.get("library_frames", ())

    @property
    def construction_stack(self) -> tuple[Site, ...]:
        return self.frames.get("construction_stack", ())

    def get(self, key: str, default: Any = None) -> Any:
        """A runtime field this model does not name (`grad_of`, `backward_call`, `module`, ...)."""
        value = self.data.get(key)
        return default if value is None else value

    @property
    def ranks(self) -> tuple[int, ...]:
        """The ranks of a distributed run (torchrun) that hit this problem; () for a plain run."""
        value = self.data.get("ranks")
        return tuple(int(r) for r in value if isinstance(r, int)) if isinstance(value, list) else ()

    @property
    def writes_tracked_value(self) -> bool:
        """The runtime saw the value written into the leaf carry a graph (`written_value`).

        Such a write is a differentiable update (`p -= lr * g` with `g` from
        `autograd.grad(create_graph=True)`); reports without the field say False.
        """
        value = self.data.get("written_value")
        return isinstance(value, Mapping) and bool(value.get("requires_grad"))

    @property
    def needed_by(self) -> str | None:
        """`needed by SigmoidBackward0 to compute the gradient of fc.weight`, from what the runtime gave."""
        value = self.data.get("needed_by")
        if value is None:
            return None
        if isinstance(value, str):
            return value if value.startswith("needed by") else \
                f"needed by {value}" + _gradient_of(self.data.get("grad_of") or [])
        if isinstance(value, Mapping):
            node = value.get("node") or value.get("grad_fn") or value.get("name")
            leaves = value.get("leaves") or value.get("grad_of") or value.get("params") or []
            if isinstance(leaves, str):
                leaves = [leaves]
            return (f"needed by {node}" if node else "needed by backward") + _gradient_of(leaves)
        return None

    def with_fix(self, fix: Fix | None, why_unfixable: str | None = None) -> "Problem":
        return replace(self, fix=fix, why_unfixable=None if fix else why_unfixable)

    def with_attempts(self, attempts: Sequence[Attempt]) -> "Problem":
        return replace(self, attempts=tuple(attempts))

    def signature(self) -> tuple[str, ...]:
        """The problem by what the code says (line numbers move when a rewrite inserts a line)."""
        def text(site: Site | None) -> str:
            return f"{site.path if site else None}|{site.code.strip() if site else ''}"

        return (self.kind, str(self.rule), text(self.modified_at), text(self.saved_at))

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        """The contract's problem object, with the runtime's extra fields passed through."""
        out: dict[str, Any] = {"kind": self.kind, "error": self.error, "tensor": dict(self.tensor),
                               "saved_at": None, "modified_at": None, "fix": None, "why_unfixable": None}
        for key, value in self.data.items():
            out.setdefault(key, value)
        for key in SITE_KEYS:
            if key in self.sites:
                out[key] = self.sites[key].to_json(cwd)
        for key in SITE_LIST_KEYS:
            out[key] = [s.to_json(cwd) for s in self.frames.get(key, ())]
        out["rule"] = self.rule
        out["fix"] = self.fix.to_json(cwd) if self.fix else None
        out["why_unfixable"] = self.why_unfixable
        if self.attempts:
            out["candidates"] = [a.to_json(cwd) for a in self.attempts]
        else:
            out.pop("candidates", None)
        return out


def _gradient_of(leaves: Any, shown: int = 4) -> str:
    names = [str(x) for x in leaves] if isinstance(leaves, (list, tuple)) else []
    if not names:
        return ""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return " to compute the gradient of " + ", ".join(names[:shown]) + more


@dataclass(frozen=True)
class Round:
    """One round of --apply: the problems its run found and what was written for them."""

    number: int
    status: str
    problems: tuple[Problem, ...] = ()
    files: tuple[str, ...] = ()  # display paths written in this round
    verification: Mapping[str, Any] | None = None

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        return {"round": self.number, "status": self.status, "problems": [p.to_json(cwd) for p in self.problems],
                "files": list(self.files), "verification": dict(self.verification) if self.verification else None}


@dataclass(frozen=True)
class Report:
    """The contract's document, for a dry run (rounds empty) and for --apply alike."""

    script: str
    status: str  # clean | found | fixed | unfixable | not-verified | script-error | timeout
    problems: tuple[Problem, ...] = ()
    verification: Mapping[str, Any] | None = None
    backward_calls: int = 0
    steps: int | None = None
    script_error: Mapping[str, Any] | None = None
    message: str = ""
    rounds: tuple[Round, ...] = ()
    files_changed: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    why: str = ""
    summary: str = ""
    applied: bool = False  # an --apply report: rounds, files_changed, restored, why and summary are shown
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the runtime's raw report

    def to_json(self, cwd: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": "inplace-fix", "version": __version__, "script": self.script, "status": self.status,
            "problems": [p.to_json(cwd) for p in self.problems],
            "verification": dict(self.verification) if self.verification is not None else None,
            "backward_calls": self.backward_calls,
            "steps": self.steps,
            "script_error": dict(self.script_error) if self.script_error else None,
        }
        if self.message:
            out["message"] = self.message
        if self.data.get("anomaly_fallback"):  # the follow-up run that looked for a missing site, and how it went
            out["anomaly_fallback"] = self.data["anomaly_fallback"]
        if self.data.get("dispatch_fallback"):  # the re-run that looked for a write inside a torch function
            out["dispatch_fallback"] = self.data["dispatch_fallback"]
        if self.data.get("ranks") is not None:  # a distributed launcher: the ranks whose workers reported
            out["ranks"] = list(self.data["ranks"])
        if self.applied:
            out.update({"rounds": [r.to_json(cwd) for r in self.rounds], "files_changed": list(self.files_changed),
                        "restored": list(self.restored), "why": self.why or None, "summary": self.summary})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], cwd: str) -> "Report":
        """Our own JSON back (a tool reading `--json`), or the runtime's report file."""
        problems = tuple(Problem.from_json(p, cwd) for p in data.get("problems") or () if isinstance(p, Mapping))
        status = str(data.get("status") or ("found" if problems else "clean"))
        if problems and status == "clean":
            status = "found"
        error = data.get("script_error")
        if status == "clean" and error:
            status = "script-error"
        rounds = tuple(Round(int(r.get("round") or 0), str(r.get("status") or ""),
                             tuple(Problem.from_json(p, cwd) for p in r.get("problems") or ()),
                             tuple(r.get("files") or ()), r.get("verification"))
                       for r in data.get("rounds") or () if isinstance(r, Mapping))
        return cls(script=str(data.get("script") or ""), status=status, problems=problems,
                   verification=data.get("verification"), backward_calls=int(data.get("backward_calls") or 0),
                   steps=data.get("steps"), script_error=error if isinstance(error, Mapping) else None,
                   message=str(data.get("message") or ""), rounds=rounds,
                   files_changed=tuple(data.get("files_changed") or ()), restored=tuple(data.get("restored") or ()),
                   why=str(data.get("why") or ""), summary=str(data.get("summary") or ""),
                   applied="rounds" in data, data=dict(data))


def read_runtime_json(path: str | Path) -> dict[str, Any] | None:
    """The runtime's report file as data, or None when it wrote none (or half of one).

    The only reader of that file: the launcher merges follow-up runs into this data
    (the anomaly fallback, the finite-difference check) before it is parsed.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_runtime_report(path: str | Path, cwd: str) -> Report | None:
    """The runtime's report file parsed, or None when it wrote none."""
    data = read_runtime_json(path)
    return None if data is None else Report.from_json(data, cwd)


def dumps(document: Mapping[str, Any]) -> str:
    """The JSON text the tool prints (stable key order, UTF-8 kept readable)."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def problems_json(problems: Sequence[Problem], cwd: str | None = None) -> list[dict[str, Any]]:
    return [p.to_json(cwd) for p in problems]
