"""Every corpus script through the real CLI (`inplace-fix SCRIPT --json`), checked against its header.

corpora/failing: the reported kind, modified line, saved line (and construction line
where the header declares one) must be exactly the header's, problem for problem. Fixable
scripts are checked the same way from their --apply run (test_fix_corpus.py), so the dry
run here covers the unfixable ones, view errors and a script of each shape.
corpora/clean: status clean, exit 0. All runs happen once, in parallel, in a
session fixture; the tests only compare.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from diagnose_helpers import REPO, run_cli

CORPORA = REPO / "corpora"
EXPECT = "# inplace-fix-expect:"
WORKERS = max(2, (os.cpu_count() or 2) + 1)  # runs wait on torch's import as much as on CPU


@dataclass(frozen=True)
class Case:
    name: str  # e.g. failing/iadd_on_relu_output
    script: Path
    expect: tuple[dict[str, str], ...]
    args: tuple[str, ...]
    clean: bool


def _entries(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    out = [p for p in folder.glob("*.py") if not p.name.endswith(".fixed.py")]
    out += [p for p in folder.glob("*/main.py")]
    return sorted(out)


def _header(path: Path) -> tuple[tuple[dict[str, str], ...], tuple[str, ...], bool]:
    expect: list[dict[str, str]] = []
    args: tuple[str, ...] = ()
    clean = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(EXPECT):
            body = line[len(EXPECT):].strip()
            if body == "clean":
                clean = True
                continue
            expect.append(dict(item.split("=", 1) for item in body.split() if "=" in item))
        elif line.startswith("# args:"):
            args = tuple(shlex.split(line[len("# args:"):]))
    return tuple(expect), args, clean


def _cases(kind: str) -> list[Case]:
    cases = []
    for script in _entries(CORPORA / kind):
        expect, args, clean = _header(script)
        rel = script.relative_to(CORPORA)
        name = str(rel.parent if script.name == "main.py" and rel.parent.name != kind else rel.with_suffix(""))
        cases.append(Case(name, script, expect, args, clean))
    return cases


ALL_FAILING = _cases("failing")
CLEAN = _cases("clean")
# A fixable script's diagnosis is checked exactly in test_fix_corpus.py (its --apply's first
# round is the same run): the dry run here covers the rest, view errors (whose reference run
# goes on past the error) and one script of each shape.
DRY_RUN_SHAPES = {"failing/relu_inplace_after_tanh_output", "failing/prenorm_residual_iadd",
                  "failing/two_problems_one_run"}


def _dry_run(case: Case) -> bool:
    fixable = all(e.get("fixable") == "yes" for e in case.expect)
    view = any(e.get("kind") == "view-modified" for e in case.expect)
    return not fixable or view or case.name in DRY_RUN_SHAPES


FAILING = [case for case in ALL_FAILING if _dry_run(case)]


def _run(case: Case) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    rel = case.script.relative_to(REPO)
    args = [str(rel), "--json", "--timeout", "120"]
    if case.args:
        args += ["--", *case.args]
    proc = run_cli(*args, cwd=REPO, timeout=300, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
                   console_script=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    return proc, report


@pytest.fixture(scope="session")
def corpus_runs() -> dict[str, tuple[subprocess.CompletedProcess[str], dict | None]]:
    cases = FAILING + CLEAN
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(_run, cases))
    return {case.name: result for case, result in zip(cases, results)}


def _where(spec: str, script: Path) -> tuple[Path, int]:
    """`17` -> (the script, 17); `model.py:17` -> (model.py next to the script, 17)."""
    if ":" in spec:
        file, line = spec.rsplit(":", 1)
        return (script.parent / file).resolve(), int(line)
    return script.resolve(), int(spec)


def _site(site: dict | None) -> tuple[Path, int] | None:
    if not site:
        return None
    return (REPO / site["file"]).resolve(), int(site["line"])


def _matches(problem: dict, want: dict[str, str], script: Path) -> bool:
    if problem.get("kind") != want.get("kind"):
        return False
    if _site(problem.get("modified_at")) != _where(want["modified"], script):
        return False
    saved = want.get("saved", "-")
    if saved == "-":
        if problem.get("saved_at") is not None:
            return False
    elif _site(problem.get("saved_at")) != _where(saved, script):
        return False
    if "view" in want and _site(problem.get("view_created_at")) != _where(want["view"], script):
        return False
    if "constructed" in want and _site(problem.get("construction_at")) != _where(want["constructed"], script):
        return False
    return True


def _brief(report: dict) -> str:
    def at(site: dict | None) -> str:
        return f"{site['file']}:{site['line']}" if site else "-"

    return "; ".join(f"{p.get('kind')} modified={at(p.get('modified_at'))} saved={at(p.get('saved_at'))} "
                     f"constructed={at(p.get('construction_at'))} view={at(p.get('view_created_at'))}"
                     for p in report.get("problems", []))


def test_corpus_is_there() -> None:
    assert len(ALL_FAILING) >= 30 and CLEAN, "the corpus is incomplete"
    assert any(case.script.name == "main.py" for case in FAILING), "a folder project is dry-run"


@pytest.mark.parametrize("case", FAILING, ids=[c.name for c in FAILING])
def test_failing_script_diagnosed_exactly(case: Case, corpus_runs: dict) -> None:
    proc, report = corpus_runs[case.name]
    assert case.expect, f"{case.script}: no `{EXPECT}` header"
    assert report is not None, f"stdout is not JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 1, f"exit {proc.returncode}, status {report.get('status')}\n{proc.stderr[-3000:]}"
    assert report["status"] == "found"
    problems = list(report["problems"])
    unmatched = []
    for want in case.expect:
        hit = next((p for p in problems if _matches(p, want, case.script)), None)
        if hit is None:
            unmatched.append(want)
        else:
            problems.remove(hit)
    assert not unmatched and not problems, (
        f"expected {[dict(w) for w in case.expect]}\n got: {_brief(report)}")


@pytest.mark.parametrize("case", CLEAN, ids=[c.name for c in CLEAN])
def test_clean_script_is_clean(case: Case, corpus_runs: dict) -> None:
    proc, report = corpus_runs[case.name]
    assert report is not None, f"stdout is not JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    assert (proc.returncode, report["status"]) == (0, "clean"), _brief(report) or proc.stderr[-3000:]
    assert report["problems"] == []
