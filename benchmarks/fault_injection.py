"""Faults injected into `inplace-fix SCRIPT --apply`: SIGKILL at random moments, and races.

    python benchmarks/fault_injection.py [--quick] [--kills 60] [--races 8] [--seed N]
                                         [--json OUT] [--write]

Projects (tests/faults/fault_project.py): train.py importing model.py, with the fix landing
in model.py, in train.py, or in model.py after a first candidate the verifier refutes.

- kills: per project, one uninterrupted --apply measures T; then each kill starts --apply,
  waits a seeded delay (one per equal slice of [0, T]), SIGKILLs the tool's process and
  checks: the edited file is the original or the verified fix; no process of the script is
  alive 5 s later; the follow-up (in turn `restore ROOT`, a dry run, `--apply`) says
  "restored" with the file name whenever it puts a file back; the next --apply fixes the
  project and leaves no scratch folder. A sixth of the kills instead strike 0-30 ms after the
  run starts journaling its final write (a file appears under `.inplace-fix/`'s subfolders),
  and a tenth (at least one) on a project whose one fix writes model.py and train.py, the moment
  the first of them is replaced.
- races: two --apply runs on one project, the second a seeded 0-1 s later; in half the tries
  the script sleeps 3 s so the first run holds the project past the second's 5 s wait.

`--quick`: 5 kills and 2 races. `--write` puts the figures into benchmarks/FAULTS.md.
Exit status 1 if any promise was broken (an unverified file, a stray process, ...).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "faults"))

from fault_project import make_project  # noqa: E402
from fault_trials import CleanRun, KillTrial, RaceTrial, clean_run, kill_moments, kill_trial, race_trial  # noqa: E402

VARIANTS = ("module", "script", "refuted")
FAULTS_MD = REPO / "benchmarks" / "FAULTS.md"
BEGIN, END = "<!-- figures: begin -->", "<!-- figures: end -->"


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def sweep_kills(base: Path, kills: int, seed: int, log) -> tuple[dict[str, CleanRun], list[tuple[str, bool, KillTrial]]]:
    clean: dict[str, CleanRun] = {}
    trials: list[tuple[str, bool, KillTrial]] = []
    in_journal_total = kills // 6 if kills >= 6 else min(1, kills // 3)
    rng = random.Random(seed + 50)
    for order, (where, count) in enumerate(zip(VARIANTS, _split(kills, len(VARIANTS)))):
        if count == 0:
            continue
        project = make_project(base / f"kill-{where}", where)
        clean[where] = run = clean_run(project)
        log(f"{where}: uninterrupted --apply {run.seconds:.1f}s, exit {run.returncode}, file {run.end}, "
            f"seen {run.seen}")
        in_journal = _split(in_journal_total, len(VARIANTS))[order]
        moments = kill_moments(seed + order, count - in_journal, run.seconds, rotate=order)
        # in the journal's window: the delay only bounds the wait for it
        moments += [(run.seconds * 3, follow_up) for _, follow_up in kill_moments(seed + 100 + order, in_journal, 1.0,
                                                                                 rotate=order)]
        for k, (delay, follow_up) in enumerate(moments):
            targeted = k >= count - in_journal
            trial = kill_trial(project, delay, follow_up, in_journal=rng.uniform(0.0, 0.03) if targeted else None)
            trials.append((where, targeted, trial))
            log(f"  kill {len(trials):3d} {'journal' if targeted else 'random '} {trial.delay:5.2f}s "
                f"follow-up {follow_up:7s}: after kill {trial.after_kill:10s} strays {len(trial.strays)} "
                f"restored {'yes' if trial.restored else 'no ':3s} final {trial.final}"
                + ("".join(f"\n      ! {p}" for p in trial.problems())))
    # between the writes of a two-file fix: SIGKILL as soon as the first file is replaced
    if kills >= 3:
        project = make_project(base / "kill-two", "two")
        for k, (_, follow_up) in enumerate(kill_moments(seed + 200, max(1, kills // 10), 1.0)):
            trial = kill_trial(project, 120.0, follow_up, at_write=True)
            trials.append(("two", True, trial))
            log(f"  kill {len(trials):3d} 2nd write {trial.delay:5.2f}s follow-up {follow_up:7s}: after kill "
                f"{trial.after_kill:10s} strays {len(trial.strays)} restored {'yes' if trial.restored else 'no ':3s} "
                f"final {trial.final}" + ("".join(f"\n      ! {p}" for p in trial.problems())))
    return clean, trials


def sweep_races(base: Path, races: int, seed: int, log) -> list[RaceTrial]:
    rng = random.Random(seed)
    out = []
    for k in range(races):
        hold = k % 2 == 0
        project = make_project(base / f"race-{k}", "module" if hold else "script", sleep=3.0 if hold else 0.0)
        trial = race_trial(project, rng.uniform(0.0, 1.0), hold)
        out.append(trial)
        log(f"  race {k + 1} {'hold ' if hold else 'quick'} offset {trial.offset:.2f}s: exits {trial.codes}, "
            f"file {trial.end}" + "".join(f"\n      ! {p}" for p in trial.problems()))
    return out


def figures(clean: dict[str, CleanRun], kills: list[tuple[str, bool, KillTrial]], races: list[RaceTrial]) -> dict:
    trials = [t for _, _, t in kills]
    return {
        "uninterrupted_seconds": {w: round(r.seconds, 2) for w, r in clean.items()},
        "uninterrupted_problems": sum(len(r.problems()) for r in clean.values()),
        "kills_tried": len(trials),
        "kills_in_journal": sum(1 for w, targeted, _ in kills if targeted and w != "two"),
        "kills_between_writes": sum(1 for w, _, _ in kills if w == "two"),
        "mixed_after_follow_up": sum(1 for t in trials if t.after_follow == "mixed"),
        "files_left_unverified": sum(1 for t in trials if "unverified" in (t.after_kill, t.after_follow, t.final)
                                     or t.after_follow == "mixed"),
        "strays_left": sum(len(t.strays) for t in trials),
        "journals_restored": sum(1 for t in trials if t.restored),
        "runs_restored_by_restore": sum(1 for t in trials if t.restored and t.follow_up == "restore"),
        "original_after_kill": sum(1 for t in trials if t.after_kill == "original"),
        "fixed_after_kill": sum(1 for t in trials if t.after_kill == "fixed"),
        "next_apply_failed": sum(1 for t in trials if t.final_rc != 0 or t.final != "fixed"),
        "scratch_left": sum(len(t.scratch_left) for t in trials),
        "kills_with_any_problem": sum(1 for t in trials if t.problems()),
        "races_tried": len(races),
        "races_unverified": sum(1 for r in races if r.end == "unverified"),
        "races_both_succeeded_unverified": sum(1 for r in races if r.codes == (0, 0) and r.end != "fixed"),
        "races_second_gave_up": sum(1 for r in races if sorted(r.codes) == [0, 2]),
        "races_with_any_problem": sum(1 for r in races if r.problems()),
    }


def markdown(fig: dict, seed: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("kills tried (in the journal's window; between the writes of a two-file fix)",
         f"{fig['kills_tried']} ({fig['kills_in_journal']}; {fig['kills_between_writes']})", ""),
        ("files left unverified (or a project half fixed after the follow-up)", fig["files_left_unverified"],
         "must be 0"),
        ("  of which half fixed after the follow-up", fig["mixed_after_follow_up"], "must be 0"),
        ("strays left (5 s after the kill)", fig["strays_left"], "must be 0"),
        ("journals restored (by the follow-up run)", fig["journals_restored"], ""),
        ("runs restored by `restore`", fig["runs_restored_by_restore"], ""),
        ("file original / fixed right after the kill", f"{fig['original_after_kill']} / {fig['fixed_after_kill']}", ""),
        ("next `--apply` did not fix", fig["next_apply_failed"], "must be 0"),
        ("scratch folders left after the next run", fig["scratch_left"], "must be 0"),
        ("kills with any broken promise", fig["kills_with_any_problem"], "must be 0"),
        ("races tried", fig["races_tried"], ""),
        ("races ending unverified / both exit 0 unverified", f"{fig['races_unverified']} / "
         f"{fig['races_both_succeeded_unverified']}", "must be 0 / 0"),
        ("races where one fixed and the other gave up (exit 2)", fig["races_second_gave_up"], "the hold tries"),
        ("races with any broken promise", fig["races_with_any_problem"], "must be 0"),
    ]
    times = ", ".join(f"{w} {s:.1f} s" for w, s in fig["uninterrupted_seconds"].items())
    lines = [f"Run {when}, seed {seed}, load {load:.1f}, Python {platform.python_version()}, "
             f"{os.cpu_count()} cores; uninterrupted `--apply`: {times}.", "",
             "| figure | value | |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {note} |" for name, value, note in rows]
    return "\n".join(lines) + "\n"


def write_md(text: str) -> None:
    doc = FAULTS_MD.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    FAULTS_MD.write_text(pattern.sub(lambda _m: f"{BEGIN}\n{text}{END}", doc), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 kills, 2 races")
    parser.add_argument("--kills", type=int, default=None, help="default 60 (5 with --quick)")
    parser.add_argument("--races", type=int, default=None, help="default 8 (2 with --quick)")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--json", type=Path, help="write the figures and every trial here")
    parser.add_argument("--write", action="store_true", help="put the figures into benchmarks/FAULTS.md")
    args = parser.parse_args()
    kills = args.kills if args.kills is not None else (5 if args.quick else 60)
    races = args.races if args.races is not None else (2 if args.quick else 8)

    def log(line: str) -> None:
        print(line, flush=True)

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fault-bench-") as tmp:
        clean, kill_trials = sweep_kills(Path(tmp), kills, args.seed, log)
        race_trials = sweep_races(Path(tmp), races, args.seed + 7, log)
    fig = figures(clean, kill_trials, race_trials)
    text = markdown(fig, args.seed)
    print()
    print(text)
    print(f"({time.monotonic() - start:.0f} s)")
    for where, run in clean.items():
        for problem in run.problems():
            print(f"! uninterrupted {where}: {problem}")
    if args.json:
        args.json.write_text(json.dumps({
            "figures": fig,
            "kills": [{"project": w, "in_journal": a, "delay": t.delay, "follow_up": t.follow_up,
                       "after_kill": t.after_kill, "after_follow": t.after_follow, "final": t.final,
                       "strays": len(t.strays), "restored": list(t.follow_restored), "problems": t.problems()}
                      for w, a, t in kill_trials],
            "races": [{"offset": r.offset, "hold": r.hold, "codes": list(r.codes), "end": r.end,
                       "problems": r.problems()} for r in race_trials],
        }, indent=2), encoding="utf-8")
    if args.write:
        write_md(text)
    broken = fig["kills_with_any_problem"] + fig["races_with_any_problem"] + fig["uninterrupted_problems"]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
