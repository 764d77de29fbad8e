"""Validate the corpus WITHOUT inplace-fix: headers, plain runs, golden rewrites.

Runnable as ``python corpora/check.py`` (stdlib + torch only). For every script in
``corpora/failing`` (a ``*.py`` file, or a folder with a ``main.py`` entry) it:

1. parses the header (see ``parse_header``) and checks every site it names exists;
2. runs the script plainly (cwd = its folder, with its ``# args:``) and checks it fails
   the declared way: torch's version-counter error (saved-tensor-modified), the leaf
   error (leaf-modified), a view error (view-modified), or exit 0 (silent-data-mutation);
3. for saved-tensor-modified, re-runs it under anomaly mode as an independent
   cross-check: the innermost project frame of "Traceback of forward call that caused
   the error" must be a declared ``saved`` line (anomaly mode names the saving op);
4. for ``fixable=yes``: runs the golden rewrite (``<name>.fixed.py``, or
   ``<name>/<file>.fixed.py`` per edited file, in a scratch copy) and checks it exits 0
   and that the losses it prints start with exactly the losses the original printed
   before failing (all of them for silent scripts), unless the header says
   ``losses=change``; then diffs golden against original (difflib) and checks only the
   declared fix sites changed, in the shape their rule prescribes.

Every clean script (``corpora/clean``, header ``# inplace-fix-expect: clean``) must run
with exit 0. Scripts print ``step N loss... VALUE`` lines; those are what is compared.

Runners: ``subprocess`` (default) is exactly ``python SCRIPT ARGS``; ``fork`` imports
torch once and forks a child per run (same cwd/argv/sys.path[0]/__main__ semantics,
about 10x faster, used by the test suite).
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FAILING = ROOT / "failing"
CLEAN = ROOT / "clean"

KINDS = ("saved-tensor-modified", "leaf-modified", "view-modified", "silent-data-mutation")
RULES = tuple(f"IPF00{i}" for i in range(1, 9))
FIX_STRATEGIES = ("clone-saved",)  # fixes no rule reports: cloning at the saving site
SITE_KEYS = ("modified", "saved", "constructed", "view")
REQUIRED_KEYS = ("kind", "modified", "saved", "rule", "fixable")
OPTIONAL_KEYS = ("constructed", "view", "fix", "losses")
EXPECT_PREFIX = "# inplace-fix-expect:"
LOSS_RE = re.compile(r"^step (\d+) (loss\w*) (\S+)$", re.M)
ERROR_TEXT = {
    "saved-tensor-modified": re.compile(
        r"one of the variables needed for gradient computation has been modified by an inplace operation"),
    "leaf-modified": re.compile(r"a leaf Variable that requires grad is being used in an in-place operation"),
    "view-modified": re.compile(
        r"is a view and is being modified inplace|A view was created in no_grad mode and is being modified inplace"
        r"|a view of a leaf Variable that requires grad is being used in an in-place operation"),
}
FRAME_RE = re.compile(r'^\s*File "([^"]+)", line (\d+), in ', re.M)
PLAIN_TIME_LIMIT = 2.0  # CPU seconds of script work (fork runner: torch already imported)


class HeaderError(ValueError):
    """The header of a corpus script is malformed."""


@dataclass(frozen=True)
class Site:
    """A line in a corpus project: file relative to the project folder, 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Expect:
    """One expected problem (one `# inplace-fix-expect:` line)."""

    kind: str
    modified: Site
    saved: Site | None
    rule: str | None
    fixable: bool
    constructed: Site | None = None
    view: Site | None = None
    fix: tuple[tuple[str, Site], ...] = ()
    losses_change: bool = False

    def fix_sites(self) -> tuple[tuple[str, Site], ...]:
        """Where the golden rewrite edits: `fix=` if given, else the construction or modified line."""
        if not self.fixable:
            return ()
        if self.fix:
            return self.fix
        return ((self.rule or "", self.constructed or self.modified),)


@dataclass(frozen=True)
class Header:
    path: Path  # the entry script
    clean: bool
    expects: tuple[Expect, ...] = ()
    pattern: str = ""
    args: tuple[str, ...] = ()
    why: str = ""
    cpu: float = PLAIN_TIME_LIMIT  # `# cpu: S`: workers that start their own interpreter re-import torch

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        rel = self.path.relative_to(ROOT)
        return str(rel.parent) if self.path.name == "main.py" and rel.parent.name not in ("failing", "clean") \
            else str(rel)

    @property
    def fixable(self) -> bool:
        return bool(self.expects) and all(e.fixable for e in self.expects)


def _site(value: str, entry: Path, key: str) -> Site | None:
    if value == "-":
        return None
    m = re.fullmatch(r"(?:([\w./-]+\.py):)?(\d+)", value)
    if not m:
        raise HeaderError(f"{key}={value!r}: expected LINE, FILE.py:LINE or -")
    return Site(m.group(1) or entry.name, int(m.group(2)))


def _parse_expect(body: str, entry: Path) -> Expect:
    fields: dict[str, str] = {}
    for tok in body.split():
        if "=" not in tok:
            raise HeaderError(f"bad token {tok!r} (want key=value)")
        k, v = tok.split("=", 1)
        if k not in REQUIRED_KEYS + OPTIONAL_KEYS:
            raise HeaderError(f"unknown key {k!r}")
        if k in fields:
            raise HeaderError(f"duplicate key {k!r}")
        fields[k] = v
    missing = [k for k in REQUIRED_KEYS if k not in fields]
    if missing:
        raise HeaderError(f"missing keys {missing}")
    if fields["kind"] not in KINDS:
        raise HeaderError(f"kind={fields['kind']!r} not in {KINDS}")
    if fields["fixable"] not in ("yes", "no"):
        raise HeaderError("fixable must be yes or no")
    rule = fields["rule"]
    if rule != "-" and rule not in RULES:
        raise HeaderError(f"rule={rule!r}: expected IPF001..IPF008 or -")
    fixable = fields["fixable"] == "yes"
    if fixable and rule == "-" and not fields.get("fix", "").startswith(FIX_STRATEGIES):
        raise HeaderError("fixable=yes needs a rule (or fix=clone-saved@LINE: a write inside a library)")
    modified = _site(fields["modified"], entry, "modified")
    if modified is None:
        raise HeaderError("modified cannot be -")
    saved = _site(fields["saved"], entry, "saved")
    if saved is None and fields["kind"] == "saved-tensor-modified":
        raise HeaderError("saved-tensor-modified needs a saved line")
    fix: list[tuple[str, Site]] = []
    if "fix" in fields:
        for item in fields["fix"].split(","):
            code, _, where = item.partition("@")
            if code not in RULES and code not in FIX_STRATEGIES:
                raise HeaderError(f"fix item {item!r}: unknown rule")
            s = _site(where, entry, "fix")
            if s is None:
                raise HeaderError(f"fix item {item!r}: needs a line")
            fix.append((code, s))
    losses = fields.get("losses", "equal")
    if losses not in ("equal", "change"):
        raise HeaderError("losses must be equal or change")
    return Expect(
        kind=fields["kind"], modified=modified, saved=saved,
        rule=None if rule == "-" else rule, fixable=fixable,
        constructed=_site(fields["constructed"], entry, "constructed") if "constructed" in fields else None,
        view=_site(fields["view"], entry, "view") if "view" in fields else None,
        fix=tuple(fix), losses_change=losses == "change")


def header_lines(text: str) -> list[str]:
    """The leading block of comment lines."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line)
    return out


def parse_header(path: Path) -> Header:
    """Parse the machine-readable header of a corpus entry script.

    Lines: one or more ``# inplace-fix-expect: kind=K modified=S saved=S|- rule=IPFxxx|-
    fixable=yes|no [constructed=S] [view=S] [fix=IPFxxx@S,...] [losses=equal|change]``
    (S = LINE or FILE.py:LINE relative to the entry's folder) or one
    ``# inplace-fix-expect: clean``; then ``# pattern: NAME``, optional ``# args: ...``
    (shell-split), ``# why: ...`` (required when fixable=no), and free prose.
    """
    path = Path(path).resolve()
    lines = header_lines(path.read_text(encoding="utf-8"))
    if not lines or not lines[0].startswith(EXPECT_PREFIX):
        raise HeaderError(f"{path}: first line must start with {EXPECT_PREFIX!r}")
    expects: list[Expect] = []
    clean = False
    pattern = why = ""
    cpu = PLAIN_TIME_LIMIT
    args: tuple[str, ...] = ()
    for line in lines:
        if line.startswith(EXPECT_PREFIX):
            body = line[len(EXPECT_PREFIX):].strip()
            if body == "clean":
                clean = True
            else:
                try:
                    expects.append(_parse_expect(body, path))
                except HeaderError as exc:
                    raise HeaderError(f"{path}: {exc}") from None
        elif line.startswith("# pattern:"):
            pattern = line.split(":", 1)[1].strip()
        elif line.startswith("# args:"):
            args = tuple(shlex.split(line.split(":", 1)[1]))
        elif line.startswith("# why:"):
            why = line.split(":", 1)[1].strip()
        elif line.startswith("# cpu:"):
            cpu = float(line.split(":", 1)[1])
    if clean and expects:
        raise HeaderError(f"{path}: clean and expectations at once")
    if not pattern:
        raise HeaderError(f"{path}: missing '# pattern:' line")
    if any(not e.fixable for e in expects) and not why:
        raise HeaderError(f"{path}: fixable=no needs a '# why:' line")
    return Header(path=path, clean=clean, expects=tuple(expects), pattern=pattern, args=args, why=why, cpu=cpu)


def discover(root: Path) -> list[Path]:
    """Entry scripts under root: `*.py` (not `*.fixed.py`) and `<dir>/main.py`, sorted."""
    out = [p for p in root.glob("*.py") if not p.name.endswith(".fixed.py")]
    out += [d / "main.py" for d in root.iterdir() if d.is_dir() and (d / "main.py").exists()]
    return sorted(p.resolve() for p in out)


def validate_sites(h: Header) -> list[str]:
    """Every declared site must be an existing, non-blank, non-comment code line."""
    errs = []
    for e in h.expects:
        sites = [e.modified, e.saved, e.constructed, e.view] + [s for _, s in e.fix]
        for s in sites:
            if s is None:
                continue
            f = h.folder / s.file
            if not f.exists():
                errs.append(f"site {s}: no such file")
                continue
            lines = f.read_text(encoding="utf-8").splitlines()
            if not 1 <= s.line <= len(lines):
                errs.append(f"site {s}: line out of range")
            elif not lines[s.line - 1].strip() or lines[s.line - 1].lstrip().startswith("#"):
                errs.append(f"site {s}: blank or comment line")
        # the flag sits where IPF004 edits: the construction, or (a module built from a config
        # dict by a builder) the `fix=IPF004@S` line holding the literal
        flagged = [("fix", s) for rule, s in e.fix if rule == "IPF004"] or \
            ([("constructed", e.constructed)] if e.constructed else [])
        for what, s in flagged:
            if "inplace=True" not in _line(h.folder, s) and '"inplace": True' not in _line(h.folder, s) \
                    and not re.search(r"\(\s*True\s*\)", _line(h.folder, s)) \
                    and not _VARIABLE_FLAG.search(_line(h.folder, s)):
                errs.append(f"{what} {s}: no inplace flag on that line")
    return errs


def _line(folder: Path, s: Site) -> str:
    return (folder / s.file).read_text(encoding="utf-8").splitlines()[s.line - 1]


# ---------------------------------------------------------------- running scripts

@dataclass
class Run:
    rc: int
    out: str
    err: str
    seconds: float
    cpu: float | None = None  # CPU seconds of the child (fork runner only)


@dataclass
class Job:
    script: Path
    args: tuple[str, ...]
    anomaly: bool = False
    result: Run | None = None


_ANOMALY_BOOT = (
    "import runpy, sys, torch; torch.autograd.set_detect_anomaly(True); "
    "sys.argv = sys.argv[1:]; sys.path[0] = __import__('os').path.dirname(sys.argv[0]) or '.'; "
    "runpy.run_path(sys.argv[0], run_name='__main__')")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def run_subprocess(jobs: list[Job], workers: int, timeout: float) -> None:
    """`python SCRIPT ARGS` per job, in parallel threads."""
    from concurrent.futures import ThreadPoolExecutor

    def one(job: Job) -> None:
        cmd = [sys.executable]
        cmd += ["-c", _ANOMALY_BOOT] if job.anomaly else []
        cmd += [str(job.script), *job.args]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=job.script.parent, capture_output=True, text=True,
                               timeout=timeout, env=_env())
            job.result = Run(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)
        except subprocess.TimeoutExpired as exc:
            job.result = Run(-9, str(exc.stdout or ""), f"TIMEOUT after {timeout}s", timeout)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, jobs))


def _child(job: Job, out_fd: int, err_fd: int) -> None:  # pragma: no cover - runs in the fork
    import runpy
    import traceback

    import torch

    code = 0
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.chdir(job.script.parent)
        sys.dont_write_bytecode = True
        sys.argv = [str(job.script), *job.args]
        sys.path[0] = str(job.script.parent)
        if job.anomaly:
            torch.autograd.set_detect_anomaly(True)
        runpy.run_path(str(job.script), run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_forked(jobs: list[Job], workers: int, timeout: float) -> None:
    """Import torch once, then fork one child per job (no threads: a plain scheduler)."""
    import torch  # noqa: F401  (imported before forking so every child starts warm)

    try:  # optimizer.step() imports torch._dynamo lazily (~1.5 CPU-s): pay it once here
        import torch._dynamo  # noqa: F401
    except Exception:  # pragma: no cover - older torch
        pass

    pending = list(jobs)
    running: dict[int, tuple[Job, float, object, object]] = {}
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop(0)
            out_f, err_f = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(job, out_f.fileno(), err_f.fileno())
            running[pid] = (job, time.perf_counter(), out_f, err_f)
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            now = time.perf_counter()
            for p, (job, t0, _, _) in list(running.items()):
                if now - t0 > timeout:
                    os.kill(p, 9)
            time.sleep(0.005)
            continue
        job, t0, out_f, err_f = running.pop(pid)
        rc = os.waitstatus_to_exitcode(status)
        texts = []
        for f in (out_f, err_f):
            f.seek(0)
            texts.append(f.read().decode("utf-8", "replace"))
            f.close()
        job.result = Run(rc, texts[0], texts[1], time.perf_counter() - t0,
                         cpu=usage.ru_utime + usage.ru_stime)


# ---------------------------------------------------------------- checks

@dataclass
class Outcome:
    name: str
    header: Header | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def losses(text: str) -> list[tuple[str, str, str]]:
    return LOSS_RE.findall(text)


def scratch_golden(h: Header, tmp: Path) -> tuple[Path, list[str]]:
    """Copy the project into tmp with every `<file>.fixed.py` in place of `<file>.py`."""
    errs = []
    if h.path.name == "main.py" and h.folder != FAILING:
        dst = tmp / h.folder.name
        shutil.copytree(h.folder, dst, ignore=shutil.ignore_patterns("__pycache__"))
        goldens = sorted(dst.glob("*.fixed.py"))
        for g in goldens:
            g.replace(dst / (g.name[: -len(".fixed.py")] + ".py"))
        if not goldens:
            errs.append("no golden <file>.fixed.py in the project folder")
        return dst / "main.py", errs
    golden = h.path.with_name(h.path.stem + ".fixed.py")
    if not golden.exists():
        return tmp / h.path.name, [f"missing golden {golden.name}"]
    shutil.copyfile(golden, tmp / h.path.name)
    return tmp / h.path.name, errs


def golden_files(h: Header) -> dict[str, Path]:
    """Edited file name (relative to the project) -> its golden."""
    if h.path.name == "main.py" and h.folder != FAILING:
        return {g.name[: -len(".fixed.py")] + ".py": g for g in sorted(h.folder.glob("*.fixed.py"))}
    g = h.path.with_name(h.path.stem + ".fixed.py")
    return {h.path.name: g} if g.exists() else {}


_INPLACE_CALL = re.compile(r"\.\w+_\(")
_VARIABLE_FLAG = re.compile(r"\binplace=(?!(?:True|False|None)\b)[A-Za-z_][\w.]*")  # `inplace=inplace`


def _write_into_copy(indent: str, new: list[str]) -> bool:
    """`x_new = x.clone()`, `x_new[...] = <value reading x>`, `x = x_new` (IPF002/IPF006 on part of x)."""
    if len(new) != 3:
        return False
    m = re.match(rf"{re.escape(indent)}(\w+?)(_new\d*) = \1\.clone\(\)$", new[0])
    return bool(m) and new[1].startswith(f"{indent}{m.group(1)}{m.group(2)}[") \
        and new[2] == f"{indent}{m.group(1)} = {m.group(1)}{m.group(2)}" and not _INPLACE_CALL.search(new[1])


def _out_of_place_statement(indent: str, old: str, new: list[str]) -> bool:
    """IPF002 on a whole statement: a chain (`s = s.mul(m).add(u)`), nested chains hoisted into
    rebindings of their names (`den = den.abs().add(1)` above `num = num.sub(den)`), or a loop
    over a tensor's views rebuilt with torch.stack/torch.cat."""
    loop = re.match(r"\s*for (\w+) in (.+):$", old)
    if loop:
        return len(new) == 1 and re.match(
            rf"{re.escape(indent)}(\w+) = \w+\.(stack|cat)\(\[.+ for {loop.group(1)} in {re.escape(loop.group(2))}\]", new[0]) is not None
    if not new or any(_INPLACE_CALL.search(line) for line in new):
        return False
    hoisted = all(re.match(rf"{re.escape(indent)}([\w.]+) = \1\.\w+\(", line) for line in new[:-1])
    return hoisted and _INPLACE_CALL.sub("(", old).strip() != new[-1].strip()


def _shape_ok(rule: str, old: str, new: list[str]) -> str | None:
    """Does the edit at one site look like `rule`'s rewrite? Returns a complaint or None."""
    indent = re.match(r"\s*", old).group(0)
    joined = "\n".join(new)
    if rule == "IPF002" and (_write_into_copy(indent, new) or _out_of_place_statement(indent, old, new)):
        return None
    if rule == "IPF006" and _write_into_copy(indent, new[:-1]):  # the value reads the written tensor
        return None
    if rule == "IPF004" and re.search(r"\.inplace\s*=\s*True", old):  # a flag set after construction
        want = re.sub(r"(\.inplace\s*=\s*)True", r"\1False", old, count=1)
        return None if new == [want] else "IPF004 wants the flag set to False"
    if rule == "IPF004" and _VARIABLE_FLAG.search(old):  # a variable flag the run proved true
        want = _VARIABLE_FLAG.sub("inplace=False", old, count=1)
        return None if new == [want] else "IPF004 wants the variable flag replaced by False"
    if rule == "IPF001":
        m = re.match(r"(\s*)(.+?) ([-+*/@]|//|\*\*|%) ?= (.+)$", old)
        want = f"{m.group(1)}{m.group(2)} = {m.group(2)} {m.group(3)} {m.group(4)}" if m else None
        return None if new == [want] else f"IPF001 wants {want!r}"
    if rule == "IPF002":
        m = re.match(r"(\s*)([\w.\[\]]+?)(?:\.data)?\.(\w+)_\((.*)$", old)  # `h.data.mul_`: visible
        want = f"{m.group(1)}{m.group(2)} = {m.group(2)}.{m.group(3)}({m.group(4)}" if m else None
        return None if new == [want] else f"IPF002 wants {want!r}"
    if rule == "IPF003":
        m = re.match(r"(\s*)((?:torch|F)\.\w+)_\(([\w.]+)(.*)$", old)
        want = f"{m.group(1)}{m.group(3)} = {m.group(2)}({m.group(3)}{m.group(4)}" if m else None
        return None if new == [want] else f"IPF003 wants {want!r}"
    if rule == "IPF004":
        want = re.sub(r"(,\s*)?inplace=True|(?<=\()\s*True\s*(?=\))", "", old, count=1)
        return None if new == [want] and want != old else "IPF004 wants only the inplace flag dropped"
    if rule == "IPF005":
        want = old.replace(".data", ".detach()", 1)
        return None if new == [want] and want != old else "IPF005 wants .data -> .detach()"
    if rule == "IPF006":
        m = re.match(r"\s*([\w.]+)\[", old)
        want = [f"{indent}{m.group(1)} = {m.group(1)}.clone()", old] if m else None
        return None if new == want else f"IPF006 wants {want!r}"
    if rule == "IPF007":
        m = re.match(r"(\s*)(.*?),\s*out=([\w.]+)\)(.*)$", old)
        want = f"{m.group(1)}{m.group(3)} = {m.group(2).strip()}){m.group(4)}" if m else None
        return None if new == [want] else f"IPF007 wants {want!r}"
    if rule == "IPF008":
        want = [f"{indent}with torch.no_grad():", "    " + old]
        return None if new == want else "IPF008 wants the statement wrapped in `with torch.no_grad():`"
    if rule == "clone-saved":  # one operand (or the saving op's result) gets `.clone()`, nothing else
        unwrapped = {new[0].replace(".clone()", "", k) for k in (1,)} if len(new) == 1 else set()
        unwrapped |= {re.sub(r"\(([^()]*)\)\.clone\(\)", r"\1", new[0], count=1)} if len(new) == 1 else set()
        return None if old in unwrapped and new != [old] else "clone-saved wants one `.clone()` added"
    return f"unknown rule {rule} in golden diff: {joined!r}"


def check_golden_diff(h: Header) -> list[str]:
    """Golden differs from the original only at the declared fix sites, in the rule's shape."""
    errs = []
    sites: dict[str, dict[int, str]] = {}
    for e in h.expects:
        for rule, s in e.fix_sites():
            sites.setdefault(s.file, {})[s.line] = rule
    goldens = golden_files(h)
    if set(goldens) != set(sites):
        errs.append(f"golden files for {sorted(goldens)} but fix sites in {sorted(sites)}")
    for fname, g in goldens.items():
        old = (h.folder / fname).read_text(encoding="utf-8").splitlines()
        new = g.read_text(encoding="utf-8").splitlines()
        if fname == h.path.name and header_lines("\n".join(old)) != header_lines("\n".join(new)):
            errs.append(f"{g.name}: header differs from the original's")
        want = sites.get(fname, {})
        touched: dict[int, list[str]] = {}
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            if tag == "insert":  # an insertion before original line i1+1 (IPF006's clone)
                touched.setdefault(i1 + 1, []).extend(new[j1:j2])
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:  # adjacent one-line edits, pair them up
                for k in range(i2 - i1):
                    touched.setdefault(i1 + k + 1, []).append(new[j1 + k])
                continue
            if i2 - i1 != 1 and not (tag == "replace" and re.match(r"\s*for .+:$", old[i1])):
                errs.append(f"{g.name}: edit spans original lines {i1 + 1}-{i2}")
                continue  # (a loop rewritten as a whole is one edit at its `for` line)
            touched.setdefault(i1 + 1, []).extend(new[j1:j2])
        for line, new_lines in touched.items():
            if line not in want:
                errs.append(f"{g.name}: unexpected change at {fname}:{line}")
                continue
            rule = want[line]
            if rule == "IPF006":  # the insert comes before the (unchanged) site line
                new_lines = new_lines + [old[line - 1]]
            complaint = _shape_ok(rule, old[line - 1], new_lines)
            if complaint:
                errs.append(f"{g.name}:{line}: {complaint}; got {new_lines!r}")
        for line in want:
            if line not in touched:
                errs.append(f"{g.name}: declared fix site {fname}:{line} is unchanged")
    return errs


def _innermost_project_frame(stderr: str, folder: Path) -> Site | None:
    block = stderr.split("Traceback of forward call that caused the error:", 1)
    if len(block) < 2:
        return None
    tail = block[1].split("\nTraceback (most recent call last)", 1)[0]
    found = None
    for path, line in FRAME_RE.findall(tail):
        p = Path(path).resolve()
        if p.parent == folder:
            found = Site(p.name, int(line))
    return found


def check_all(runner: str = "subprocess", workers: int | None = None, timeout: float = 60.0,
              anomaly: bool = True) -> list[Outcome]:
    """Run every check; one Outcome per corpus entry (failing, then clean)."""
    workers = workers or max(2, os.cpu_count() or 2)
    outcomes: list[Outcome] = []
    jobs: list[Job] = []
    plan: list[tuple[Outcome, dict[str, Job]]] = []
    tmp_root = Path(tempfile.mkdtemp(prefix="ipf-corpus-"))
    try:
        for path in discover(FAILING) + discover(CLEAN):
            oc = Outcome(name=str(path.relative_to(ROOT)), header=None)
            outcomes.append(oc)
            try:
                h = parse_header(path)
            except (HeaderError, OSError) as exc:
                oc.problems.append(str(exc))
                continue
            oc.header = h
            oc.name = h.name
            mine: dict[str, Job] = {"plain": Job(path, h.args)}
            if path.is_relative_to(CLEAN):
                if not h.clean:
                    oc.problems.append("clean/ script without '# inplace-fix-expect: clean'")
            else:
                if h.clean or not h.expects:
                    oc.problems.append("failing/ script without an expectation")
                oc.problems += validate_sites(h)
                if any(e.kind == "saved-tensor-modified" for e in h.expects) and anomaly:
                    mine["anomaly"] = Job(path, h.args, anomaly=True)
                if h.fixable:
                    oc.problems += check_golden_diff(h)
                    tmp = tmp_root / f"g{len(plan)}"
                    tmp.mkdir()
                    gpath, errs = scratch_golden(h, tmp)
                    oc.problems += errs
                    if not errs:
                        mine["golden"] = Job(gpath, h.args)
                elif golden_files(h):
                    oc.problems.append("fixable=no but a golden file exists")
            plan.append((oc, mine))
            jobs += mine.values()
        (run_forked if runner == "fork" else run_subprocess)(jobs, workers, timeout)
        for oc, mine in plan:
            _judge(oc, mine, runner)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return outcomes


def _judge(oc: Outcome, mine: dict[str, Job], runner: str) -> None:
    h = oc.header
    assert h is not None
    plain = mine["plain"].result
    assert plain is not None
    oc.notes.append(f"{plain.seconds:.2f}s wall" + (f", {plain.cpu:.2f}s cpu" if plain.cpu is not None else ""))
    if plain.cpu is not None and plain.cpu > h.cpu:  # CPU time: robust on a loaded machine
        oc.problems.append(f"plain run used {plain.cpu:.2f}s of CPU (> {h.cpu}s)")
    if h.clean:
        if plain.rc != 0:
            oc.problems.append(f"clean script failed (rc={plain.rc}): {_last(plain.err)}")
        elif not losses(plain.out):
            oc.problems.append("clean script printed no loss lines")
        return
    kinds = {e.kind for e in h.expects}
    if kinds == {"silent-data-mutation"}:
        if plain.rc != 0:
            oc.problems.append(f"silent script must exit 0, got rc={plain.rc}: {_last(plain.err)}")
    else:
        if plain.rc == 0:
            oc.problems.append("script was expected to fail but exited 0")
        elif not any(ERROR_TEXT[k].search(plain.err) for k in kinds if k in ERROR_TEXT):
            oc.problems.append(f"wrong failure for {sorted(kinds)}: {_last(plain.err)}")
    if "anomaly" in mine:
        an = mine["anomaly"].result
        assert an is not None
        site = _innermost_project_frame(an.err, h.folder)
        saved = {e.saved for e in h.expects if e.saved}
        if site is None:
            oc.problems.append("anomaly mode printed no forward traceback inside the project")
        elif site not in saved:
            oc.problems.append(f"anomaly mode says saved at {site}, header says {sorted(map(str, saved))}")
        else:
            oc.notes.append(f"anomaly saved={site}")
    if "golden" in mine:
        g = mine["golden"].result
        assert g is not None
        if g.rc != 0:
            oc.problems.append(f"golden failed (rc={g.rc}): {_last(g.err)}")
            return
        lo, lg = losses(plain.out), losses(g.out)
        if kinds == {"silent-data-mutation"} and lo:
            # The original's gradients are wrong from the first backward on, so its later
            # losses follow a different trajectory: only the first step is comparable.
            lo = [x for x in lo if x[0] == lo[0][0]]
        if not lg:
            oc.problems.append("golden printed no loss lines")
        if any(e.losses_change for e in h.expects):
            oc.notes.append("losses change by design")
        elif lg[: len(lo)] != lo:
            oc.problems.append(f"golden losses {lg[:len(lo)]} != original {lo}")
        else:
            oc.notes.append(f"golden ok, {len(lo)} loss values equal")


def _last(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "(no output)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runner", choices=("subprocess", "fork"), default="subprocess")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-anomaly", action="store_true", help="skip the anomaly-mode saved-line cross-check")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    outcomes = check_all(a.runner, a.jobs, a.timeout, anomaly=not a.no_anomaly)
    bad = [o for o in outcomes if not o.ok]
    if a.json:
        import json

        print(json.dumps({"ok": not bad, "seconds": round(time.perf_counter() - t0, 1), "results": [
            {"name": o.name, "ok": o.ok, "problems": o.problems, "notes": o.notes} for o in outcomes]}, indent=1))
        return 1 if bad else 0
    for o in outcomes:
        h = o.header
        if h is None or h.clean:
            desc = "clean"
        else:
            desc = "; ".join(f"{e.kind} {e.rule or '-'} fixable={'yes' if e.fixable else 'no'}" for e in h.expects)
        status = "ok  " if o.ok else "FAIL"
        print(f"{status} {o.name:55s} {desc}" + (f"  [{', '.join(o.notes)}]" if a.verbose else ""))
        for p in o.problems:
            print(f"     - {p}")
    n_fail = sum(1 for o in outcomes if o.header and not o.header.clean)
    print(f"{len(outcomes)} scripts ({n_fail} failing, {len(outcomes) - n_fail} clean): "
          f"{len(outcomes) - len(bad)} ok, {len(bad)} with problems, {time.perf_counter() - t0:.1f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
