"""Static throughput: `scan` and `migrate` against a bare libcst parse and TorchFix.

    python benchmarks/static_throughput.py [--cache DIR] [--repeat N] [--skip-torchfix] [--json OUT]
    python benchmarks/static_throughput.py --sample 50 [--seed 2]    # precision review

Fetches pinned timm and torchvision wheels with `pip download` into a cache folder
outside the repository (default ~/.cache/inplace-fix/bench, or $INPLACE_FIX_BENCH_CACHE),
extracts their .py files, and measures in one run, side by side:

  * libcst parse-only of every file, single process (the yardstick);
  * `inplace-fix scan` on the tree (wall time of the real CLI, all cores);
  * `inplace-fix migrate` dry run on the tree;
  * TorchFix 0.7.0's lint on the same tree, from its own venv in the cache folder
    (so it cannot change the libcst this project uses).

Then checks the corpus: no crash, every file `migrate --apply` rewrites (on a temp
copy) compiles, and a second `migrate` on the copy finds nothing to change.
Exits 1 when a target is missed or a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

WHEELS = {"timm": "1.0.31", "torchvision": "0.29.2"}
TORCHFIX = "torchfix==0.7.0"
TARGETS = {"scan/parse": 0.15, "migrate/parse": 0.5, "torchfix/scan": 20.0, "torchfix/migrate": 20.0}


def default_cache() -> Path:
    return Path(os.environ.get("INPLACE_FIX_BENCH_CACHE", Path.home() / ".cache" / "inplace-fix" / "bench"))


def fetch_corpus(cache: Path) -> Path:
    """Download the pinned wheels once and extract their .py files into cache/corpus."""
    wheels, corpus = cache / "wheels", cache / "corpus"
    wheels.mkdir(parents=True, exist_ok=True)
    for name, version in WHEELS.items():
        if not list(wheels.glob(f"{name}-{version}-*.whl")):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                            f"{name}=={version}"], check=True)
    marker = corpus / ".complete"
    if not marker.exists():
        shutil.rmtree(corpus, ignore_errors=True)
        for name, version in WHEELS.items():
            wheel = next(wheels.glob(f"{name}-{version}-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if member.endswith(".py") and ".dist-info/" not in member:
                        archive.extract(member, corpus / f"{name}-{version}")
        marker.write_text(json.dumps(WHEELS))
    return corpus


def torchfix_binary(cache: Path) -> Path:
    """TorchFix in its own venv (it pins an older libcst than ours)."""
    venv = cache / "torchfix-venv"
    binary = venv / "bin" / "torchfix"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", TORCHFIX], check=True)
    return binary


def cli() -> list[str]:
    """The real `inplace-fix` command of this interpreter."""
    script = Path(sys.executable).with_name("inplace-fix")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from inplace_fix.cli import main; sys.exit(main())"]


def py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Timing:
    """Wall seconds (what a user waits) and CPU seconds of the whole process tree.

    CPU seconds barely move when other jobs share the machine; wall seconds do.
    """

    wall: float
    cpu: float


def timed(command: list[str], repeat: int = 1, cwd: Path | None = None) -> tuple[Timing, subprocess.CompletedProcess]:
    """Best wall time (and the CPU time of that run) of `repeat` runs, and the last run's result."""
    best, proc = Timing(float("inf"), float("inf")), None
    for _ in range(repeat):
        cpu0, start = _children_cpu(), time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
        run = Timing(time.perf_counter() - start, _children_cpu() - cpu0)
        best = min(best, run, key=lambda t: t.wall)
    assert proc is not None
    return best, proc


def libcst_parse_only(files: list[Path]) -> tuple[Timing, int]:
    """Time to libcst-parse every file in this process; and how many failed to parse."""
    import libcst

    sources = [p.read_bytes() for p in files]
    failures = 0
    cpu0, start = time.process_time(), time.perf_counter()
    for data in sources:
        try:
            libcst.parse_module(data)
        except Exception:
            failures += 1
    return Timing(time.perf_counter() - start, time.process_time() - cpu0), failures


def ast_parse_only(files: list[Path]) -> Timing:
    import ast

    sources = [p.read_bytes() for p in files]
    cpu0, start = time.process_time(), time.perf_counter()
    for data in sources:
        try:
            ast.parse(data)
        except SyntaxError:
            pass
    return Timing(time.perf_counter() - start, time.process_time() - cpu0)


@dataclass(frozen=True)
class Checks:
    apply_exit: int
    crashes: int  # tracebacks or exit codes outside 0/1/2, plus internal errors reported per file
    tool_errors: list[str]
    files_rewritten: int
    not_compiling: list[str]
    second_run_changes: int
    second_run_exit: int


def check_corpus(corpus: Path) -> Checks:
    """migrate --apply on a temp copy: compiles? stable? no crash?"""
    with tempfile.TemporaryDirectory(prefix="ipf-bench-") as tmp:
        copy = Path(tmp) / "corpus"
        shutil.copytree(corpus, copy)
        before = {p: p.read_bytes() for p in py_files(copy)}
        _, first = timed([*cli(), "migrate", str(copy), "--apply"])
        errors = [line for line in first.stderr.splitlines() if ": error: " in line]
        crashes = sum("Traceback" in text for text in (first.stdout, first.stderr))
        crashes += first.returncode not in (0, 1, 2)
        crashes += sum("internal error" in line for line in errors)
        changed = [p for p, data in before.items() if p.read_bytes() != data]
        not_compiling = []
        for path in changed:
            try:
                compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                not_compiling.append(f"{path.relative_to(copy)}: {exc}")
        _, second = timed([*cli(), "migrate", str(copy)])
        crashes += second.returncode not in (0, 1, 2) or "Traceback" in second.stderr
        second_changes = sum(1 for line in second.stdout.splitlines() if line.startswith("+++ "))
        return Checks(first.returncode, crashes, errors, len(changed), not_compiling, second_changes,
                      second.returncode)


def print_sample(corpus: Path, size: int, seed: int) -> int:
    """A fixed-seed random sample of `scan` findings, each shown in context, for judging precision by hand."""
    import random

    proc = subprocess.run([*cli(), "scan", ".", "--format", "json"], capture_output=True, text=True, cwd=corpus)
    findings = json.loads(proc.stdout)["findings"]
    sample = random.Random(seed).sample(findings, min(size, len(findings)))
    for number, f in enumerate(sample, 1):
        lines = (corpus / f["path"]).read_text(encoding="utf-8", errors="replace").splitlines()
        start, end = max(0, f["line"] - 8), min(len(lines), f["end_line"] + 2)
        print(f"=== #{number} {f['path']}:{f['line']}:{f['col'] + 1}: {f['code']} [{f['confidence']}] {f['message']}")
        for index in range(start, end):
            print(f"{'>' if index + 1 == f['line'] else ' '}{index + 1:5d} {lines[index]}")
    print(f"\n{len(sample)} of {len(findings)} findings (seed {seed})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache(), help="download/extract folder (not the repo)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for scan and migrate (default 3)")
    parser.add_argument("--skip-torchfix", action="store_true", help="leave TorchFix out (it takes minutes)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="instead of timing, print N random scan findings in context (precision review)")
    parser.add_argument("--seed", type=int, default=2, help="seed of --sample (default 2)")
    args = parser.parse_args(argv)

    corpus = fetch_corpus(args.cache)
    if args.sample:
        return print_sample(corpus, args.sample, args.seed)
    files = py_files(corpus)
    size = sum(p.stat().st_size for p in files)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"corpus: {', '.join(f'{n}=={v}' for n, v in WHEELS.items())}: {len(files)} files, "
          f"{size / 1e6:.1f} MB; {cores} cores; python {sys.version.split()[0]}")

    figures: dict[str, Timing] = {}
    figures["ast_parse"] = ast_parse_only(files)
    figures["libcst_parse"], parse_failures = libcst_parse_only(files)
    figures["scan"], scan = timed([*cli(), "scan", str(corpus), "--format", "json"], args.repeat)
    figures["migrate"], migrate = timed([*cli(), "migrate", str(corpus)], args.repeat)
    if not args.skip_torchfix:
        figures["torchfix"], _ = timed([str(torchfix_binary(args.cache)), str(corpus)])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    report = json.loads(scan.stdout) if scan.stdout.strip().startswith("{") else {"summary": {}}
    summary = report.get("summary", {})
    print(f"scan: exit {scan.returncode}, {summary.get('findings')} findings {summary.get('by_rule')}, "
          f"{summary.get('errors')} files with errors; migrate: exit {migrate.returncode}, "
          f"{sum(1 for line in migrate.stdout.splitlines() if line.startswith('+++ '))} files would change; "
          f"libcst could not parse {parse_failures} files; load average at the end {load:.1f}")
    print()
    print(f"{'measure':<36}{'wall s':>9}{'CPU s':>9}")
    labels = {"ast_parse": "stdlib ast parse-only (1 process)", "libcst_parse": "libcst parse-only (1 process)",
              "scan": "inplace-fix scan", "migrate": "inplace-fix migrate (dry run)",
              "torchfix": "TorchFix 0.7.0 lint"}
    for key, label in labels.items():
        if key in figures:
            print(f"{label:<36}{figures[key].wall:>9.2f}{figures[key].cpu:>9.2f}")
    pairs = {"scan/parse": ("scan", "libcst_parse"), "migrate/parse": ("migrate", "libcst_parse"),
             "torchfix/scan": ("torchfix", "scan"), "torchfix/migrate": ("torchfix", "migrate")}
    ratios: dict[str, dict[str, float]] = {}
    print()
    print(f"{'ratio':<18}{'wall':>9}{'CPU':>9}   target")
    missed = []
    for name, (top, bottom) in pairs.items():
        if top not in figures:
            continue
        wall = figures[top].wall / figures[bottom].wall
        cpu = figures[top].cpu / figures[bottom].cpu
        ratios[name] = {"wall": wall, "cpu": cpu}
        target = TARGETS[name]
        ok = wall <= target if name.endswith("/parse") else wall >= target
        missed += [] if ok else [name]
        print(f"{name:<18}{wall:>8.3f}x{cpu:>8.3f}x   {'<=' if name.endswith('/parse') else '>='} {target}x "
              f"(wall) {'ok' if ok else 'MISSED'}")

    checks = check_corpus(corpus)
    print()
    print(f"migrate --apply on a copy: exit {checks.apply_exit}, {checks.files_rewritten} files rewritten, "
          f"{checks.crashes} crashes, {len(checks.not_compiling)} not compiling, "
          f"{checks.second_run_changes} files changed by a second migrate (exit {checks.second_run_exit})")
    for line in checks.tool_errors + checks.not_compiling:
        print(f"  {line}")
    failed = checks.crashes or checks.not_compiling or checks.second_run_changes
    if args.json:
        args.json.write_text(json.dumps({"files": len(files), "bytes": size, "cores": cores, "seconds": {k: asdict(v) for k, v in figures.items()}, "load": load,
                                         "ratios": ratios, "checks": asdict(checks)}, indent=2) + "\n")
    return 1 if missed or failed else 0


if __name__ == "__main__":
    sys.exit(main())
