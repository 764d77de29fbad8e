"""One fault at a time against the real CLI, judged the way a user would see it afterwards.

Shared by the tests in this folder and `benchmarks/fault_injection.py`: each trial returns a
frozen result whose `problems()` lists, in words, every broken promise (empty = all kept).
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field

from fault_project import Project, reap, run_cli, scratch_dirs, start_cli, strays

FOLLOW_UPS = ("restore", "dry-run", "apply")
STRAY_WAIT = 5.0  # "no process of the script remains within a few seconds"


def state(project: Project) -> str:
    """original / fixed (every edited file), mixed (each file one or the other, not all the
    same: a write of several files under way), or unverified (any other bytes)."""
    each = []
    for data, original, fixed in zip(project.current(), project.originals, project.fixes):
        each.append("original" if data == original else "fixed" if data == fixed else "unverified")
    if "unverified" in each:
        return "unverified"
    return each[0] if len(set(each)) == 1 else "mixed"


def restored_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "restored" in line.lower()]


@dataclass(frozen=True)
class CleanRun:
    """An uninterrupted `--apply`: its duration, and what the user saw on disk meanwhile."""

    seconds: float
    returncode: int
    end: str
    seen: tuple[str, ...]  # every distinct state of the edited file observed during the run
    gitignore: str | None  # `.inplace-fix/.gitignore` afterwards
    scratch_left: tuple[str, ...]
    output: str

    def problems(self) -> list[str]:
        out = []
        if self.returncode != 0 or self.end != "fixed":
            out.append(f"uninterrupted --apply: exit {self.returncode}, file {self.end}\n{self.output[-1500:]}")
        if "unverified" in self.seen:
            out.append("an unverified edit was on disk during the run (the verification re-ran it from the file)")
        if self.gitignore is None or "*" not in [line.strip() for line in self.gitignore.splitlines()]:
            out.append(f".inplace-fix/.gitignore is {self.gitignore!r}: no line '*'")
        if self.scratch_left:
            out.append(f"scratch folders left: {self.scratch_left}")
        return out


def clean_run(project: Project) -> CleanRun:
    """`--apply` from the broken original to the end, polling the edited file every few ms."""
    project.reset()
    seen: set[str] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                seen.add(state(project))
            except OSError:
                pass
            time.sleep(0.002)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    start = time.monotonic()
    result = run_cli(project.script.name, "--apply", cwd=project.root, tmp=project.tmp, timeout=180)
    seconds = time.monotonic() - start
    done.set()
    watcher.join()
    ignore = project.root / ".inplace-fix" / ".gitignore"
    return CleanRun(seconds, result.returncode, state(project), tuple(sorted(seen)),
                    ignore.read_text(encoding="utf-8") if ignore.is_file() else None,
                    tuple(scratch_dirs(project.tmp)), result.stdout + result.stderr)


@dataclass(frozen=True)
class KillTrial:
    """`--apply` killed with SIGKILL after `delay` s, then a follow-up run and a last `--apply`."""

    delay: float
    follow_up: str
    after_kill: str
    others_changed: tuple[str, ...]
    strays: tuple[int, ...]
    follow_rc: int
    follow_restored: tuple[str, ...]  # the follow-up's stderr lines that say "restored"
    before_follow: str
    after_follow: str
    final_rc: int
    final_restored: tuple[str, ...]
    final: str
    scratch_left: tuple[str, ...]
    edited: tuple[str, ...]  # the names of the files the fix rewrites
    final_output: str = field(repr=False, default="")

    @property
    def restored(self) -> bool:
        return bool(self.follow_restored)

    def problems(self) -> list[str]:
        out = []
        at = f"kill at {self.delay:.2f}s, follow-up {self.follow_up}"
        if self.after_kill == "unverified":
            out.append(f"{at}: the file holds an unverified edit after the kill")
        if self.others_changed:
            out.append(f"{at}: files the fix does not touch changed: {self.others_changed}")
        if self.strays:
            out.append(f"{at}: {len(self.strays)} process(es) of the script still alive {STRAY_WAIT:.0f}s after the kill")
        if self.after_follow in ("unverified", "mixed"):
            out.append(f"{at}: the project is {self.after_follow} after the follow-up")
        for line in self.follow_restored:
            if not any(name in line for name in self.edited):
                out.append(f"{at}: the 'restored' line names none of {self.edited}: {line!r}")
        if self.follow_up in ("restore", "dry-run") and self.before_follow != self.after_follow and not self.restored:
            out.append(f"{at}: the follow-up changed the file ({self.before_follow} -> {self.after_follow}) "
                       "without saying 'restored'")
        want_rc = {"restore": (0,), "dry-run": (0,) if self.after_follow == "fixed" else (1,), "apply": (0,)}
        if self.follow_rc not in want_rc[self.follow_up]:
            out.append(f"{at}: follow-up exit {self.follow_rc}, wanted {want_rc[self.follow_up]}")
        if self.final_restored:
            out.append(f"{at}: the last --apply restored again after the follow-up: {self.final_restored}")
        if self.final_rc != 0 or self.final != "fixed":
            out.append(f"{at}: the next --apply: exit {self.final_rc}, file {self.final}\n{self.final_output[-800:]}")
        if self.scratch_left:
            out.append(f"{at}: scratch folders of dead runs left after the next run: {self.scratch_left}")
        return out


def others(project: Project) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.root.glob("*.py")) if p not in project.edited}


def follow_up_command(project: Project, kind: str) -> list[str]:
    return {"restore": ["restore", str(project.root)], "dry-run": [project.script.name],
            "apply": [project.script.name, "--apply"]}[kind]


def _journal_entries(project: Project) -> bool:
    """Whether a file exists in a subfolder of `.inplace-fix/` (the journal of a write under way;
    the lock and `.gitignore` sit at its top)."""
    state = project.root / ".inplace-fix"
    try:
        folders = [entry for entry in os.scandir(state) if entry.is_dir()]
        while folders:
            folder = folders.pop()
            for entry in os.scandir(folder.path):
                if entry.is_dir():
                    folders.append(entry)
                else:
                    return True
    except OSError:
        return False
    return False


def _wait_for_journal(project: Project, limit: float, extra: float) -> float:
    """Spin until the run starts journaling its final write (at most `limit` s), then `extra` s
    more: SIGKILL lands inside the journal's window of a few milliseconds."""
    start = time.monotonic()
    while not _journal_entries(project) and time.monotonic() - start < limit:
        pass
    until = time.monotonic() + extra
    while time.monotonic() < until:
        pass
    return time.monotonic() - start


def _wait_for_write(project: Project, limit: float) -> float:
    """Spin until the first edited file is replaced (inode, size or mtime differ), at most
    `limit` s: SIGKILL lands between the writes of a several-file fix."""
    def key() -> tuple[tuple[int, int, int], ...]:
        out = []
        for path in project.edited:
            try:
                info = path.stat()
                out.append((info.st_ino, info.st_size, info.st_mtime_ns))
            except OSError:
                out.append((-1, -1, -1))
        return tuple(out)

    start, before = time.monotonic(), key()
    while key() == before and time.monotonic() - start < limit:
        pass
    return time.monotonic() - start


def kill_trial(project: Project, delay: float, follow_up: str, in_journal: float | None = None,
               at_write: bool = False) -> KillTrial:
    """Kill `delay` s into `--apply`; with `in_journal`, that many seconds after the run starts
    its journal; with `at_write`, as soon as it replaces an edited file (then `delay` only
    bounds the wait)."""
    project.reset()
    untouched = others(project)
    proc = start_cli(project.script.name, "--apply", cwd=project.root, tmp=project.tmp)
    if at_write:
        delay = _wait_for_write(project, delay)
    elif in_journal is not None:
        delay = _wait_for_journal(project, delay, in_journal)
    else:
        time.sleep(delay)
    proc.kill9()
    after_kill = state(project)
    changed = tuple(name for name, data in others(project).items() if untouched.get(name) != data)
    left = strays(project.root, STRAY_WAIT)
    reap(left)
    before_follow = state(project)
    follow = run_cli(*follow_up_command(project, follow_up), cwd=project.root, tmp=project.tmp, timeout=180)
    after_follow = state(project)
    # the next --apply: the follow-up itself when it was one
    final = follow if follow_up == "apply" else run_cli(project.script.name, "--apply", cwd=project.root,
                                                        tmp=project.tmp, timeout=180)
    return KillTrial(delay, follow_up, after_kill, changed, tuple(left), follow.returncode,
                     tuple(restored_lines(follow.stderr)), before_follow, after_follow, final.returncode,
                     () if final is follow else tuple(restored_lines(final.stderr)), state(project),
                     tuple(scratch_dirs(project.tmp)), project.names, final.stdout + final.stderr)


def kill_moments(seed: int, count: int, span: float, rotate: int = 0) -> list[tuple[float, str]]:
    """`count` delays spread over [0, span] (one per equal slice, random within it) and a
    follow-up for each, in turn restore, dry run, --apply (starting `rotate` places on)."""
    rng = random.Random(seed)
    return [(span * (k + rng.random()) / count, FOLLOW_UPS[(k + rotate) % len(FOLLOW_UPS)]) for k in range(count)]


@dataclass(frozen=True)
class RaceTrial:
    """Two `--apply` runs on one project, the second started `offset` s after the first."""

    offset: float
    codes: tuple[int, int]
    outputs: tuple[str, str]
    end: str
    strays: tuple[int, ...]
    hold: bool  # the project's script sleeps long enough that the first run holds the lock > 5 s

    def problems(self) -> list[str]:
        out = []
        at = f"race at offset {self.offset:.2f}s"
        if self.end in ("unverified", "mixed"):
            out.append(f"{at}: the project ends {self.end}")
        if self.codes == (0, 0) and self.end != "fixed":
            out.append(f"{at}: both runs exited 0 but the file is {self.end}")
        for code, text in zip(self.codes, self.outputs):
            if code == 2 and "another inplace-fix" not in text:
                out.append(f"{at}: a run exited 2 without saying 'another inplace-fix':\n{text[-600:]}")
            if code not in (0, 2):
                out.append(f"{at}: a run exited {code}:\n{text[-800:]}")
        if self.hold and sorted(self.codes) != [0, 2]:
            out.append(f"{at}: with the lock held past 5 s, wanted one run to fix (0) and one to give up (2), "
                       f"got exits {self.codes}")
        if self.end != "fixed" and 0 in self.codes:
            out.append(f"{at}: a run exited 0 but the file is {self.end}")
        if self.strays:
            out.append(f"{at}: stray processes {self.strays}")
        return out


def race_trial(project: Project, offset: float, hold: bool) -> RaceTrial:
    project.reset()
    first = start_cli(project.script.name, "--apply", cwd=project.root, tmp=project.tmp)
    time.sleep(offset)
    second = start_cli(project.script.name, "--apply", cwd=project.root, tmp=project.tmp)
    (code1, out1), (code2, out2) = first.wait(180), second.wait(180)
    left = strays(project.root, STRAY_WAIT)
    reap(left)
    return RaceTrial(offset, (-1 if code1 is None else code1, -1 if code2 is None else code2), (out1, out2),
                     state(project), tuple(left), hold)
