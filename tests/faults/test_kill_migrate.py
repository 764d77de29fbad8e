"""`migrate --apply` over a 40-file repository killed with SIGKILL, and what the user finds after.

Promise: every file is its original bytes or its whole migrated text (what the dry run's
diff gives), never anything else; the next run (`inplace-fix restore`, or `migrate --apply`
itself) finds an unfinished run's journal and says what it did with each file it names;
after `restore` the repository is back to its originals (or, when the dead run had written
every file, keeps them all), and a last `migrate --apply` migrates it all with exit 0.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fault_project import alive, reap, run_cli, start_cli

SEED = 20261203
FILES = 40
EXTRA = "\n\ndef step{j}(a):\n    y = a * 2\n    y = F.relu(y, inplace=True)\n    return y\n"
NET = ("import torch.nn as nn\nimport torch.nn.functional as F\n\n"
       "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))\n")


def module(index: int) -> str:
    """NET with 0..24 extra rewrites: files of uneven size, like a real repository's."""
    return NET + "".join(EXTRA.format(j=j) for j in range(index * 7 % 25))


@dataclass(frozen=True)
class Tree:
    """A git repository of FILES modules to migrate and two clean ones; `expected` is each
    module as the dry run's diff (applied with `git apply`) leaves it."""

    root: Path
    originals: dict[str, bytes]
    expected: dict[str, bytes]

    @property
    def changing(self) -> list[str]:
        return sorted(name for name in self.originals if self.originals[name] != self.expected[name])

    def states(self) -> dict[str, str]:
        """Each module's state: original, migrated, or other (any other bytes); a clean module
        that changed at all counts as other."""
        out = {}
        for name, original in self.originals.items():
            data = (self.root / name).read_bytes()
            if name not in self.changing:
                out[name] = "clean" if data == original else "other"
            else:
                out[name] = "original" if data == original else "migrated" if data == self.expected[name] else "other"
        return out

    def all(self, state: str) -> bool:
        """Every module in `state` (and the clean ones untouched)."""
        return set(self.states().values()) == {state, "clean"}

    def reset(self) -> None:
        for name, data in self.originals.items():
            (self.root / name).write_bytes(data)
        shutil.rmtree(self.root / ".inplace-fix", ignore_errors=True)
        for temp in self.root.rglob("*.ipf-tmp"):
            temp.unlink()


def _write_tree(root: Path) -> dict[str, bytes]:
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    files = {f"{'models' if i % 2 else 'layers'}/m{i:02d}.py": module(i).encode() for i in range(FILES)}
    files |= {"models/clean.py": b"x = 1\n", "layers/clean.py": b"y = 2\n"}
    for name, data in files.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(data)
    return files


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tree, float]:
    """The tree, its expected migration, and how long an uninterrupted `migrate --apply` takes."""
    base = tmp_path_factory.mktemp("kill-migrate")
    originals = _write_tree(base / "repo")
    copy = base / "dry"
    shutil.copytree(base / "repo", copy)
    dry = run_cli("migrate", ".", cwd=copy)
    assert dry.returncode == 1, dry.stderr
    (base / "changes.patch").write_text(dry.stdout)
    subprocess.run(["git", "apply", str(base / "changes.patch")], cwd=copy, check=True)
    expected = {name: (copy / name).read_bytes() for name in originals}
    result = Tree(base / "repo", originals, expected)
    assert len(result.changing) == FILES
    start = time.monotonic()
    clean = run_cli("migrate", ".", "--apply", cwd=result.root)
    seconds = time.monotonic() - start
    assert clean.returncode == 0, clean.stderr
    assert result.all("migrated"), "an uninterrupted --apply must write what the dry run shows"
    return result, seconds


def _stamp(tree: Tree) -> tuple[tuple[int, int], ...]:
    out = []
    for name in tree.changing:
        try:
            info = (tree.root / name).stat()
            out.append((info.st_ino, info.st_mtime_ns))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


def _journaling(tree: Tree) -> bool:
    """The run has started its journal (an original saved, the index not necessarily)."""
    base = tree.root / ".inplace-fix" / "journal"
    try:
        return any(any(folder.iterdir()) for folder in base.iterdir())
    except OSError:
        return False


def _kill(tree: Tree, how: str, delay: float) -> dict[str, str]:
    """Start `migrate --apply` and SIGKILL it: `delay` s into the run ("timed"), or `delay` s
    after it replaces its first file ("first-write") or saves its first original ("journal")."""
    tree.reset()
    before = _stamp(tree)
    proc = start_cli("migrate", ".", "--apply", cwd=tree.root)
    if how != "timed":
        started = _journaling if how == "journal" else (lambda tree: _stamp(tree) != before)
        deadline = time.monotonic() + 60
        while not started(tree) and time.monotonic() < deadline:
            pass
    until = time.monotonic() + delay
    while time.monotonic() < until:
        pass
    proc.kill9()
    return tree.states()


def _left_behind(root: Path, wait: float = 5.0) -> list[int]:
    """Live processes working in the tree (the killed run's workers) after up to `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        left = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and int(entry) != os.getpid() and os.readlink(f"/proc/{entry}/cwd") == str(root):
                    left.append(int(entry))
            except OSError:
                continue
        left = [pid for pid in left if alive(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


RECOVERY = re.compile(r"^inplace-fix: (restored|kept) (\S+)(?: to its original bytes)?: a `migrate --apply` "
                      r"that did not finish \(pid \d+, started [^)]+\)", re.M)


def _check_follow_up(tree: Tree, after_kill: dict[str, str], follow_up: str) -> list[str]:
    """Every broken promise of the follow-up run and of the last --apply, in words."""
    problems = []
    migrated = sorted(name for name, state in after_kill.items() if state == "migrated")
    args = ["restore", str(tree.root)] if follow_up == "restore" else ["migrate", ".", "--apply"]
    follow = run_cli(*args, cwd=tree.root)
    said = {name: action for action, name in RECOVERY.findall(follow.stderr)}
    if follow.returncode != 0:
        problems.append(f"{follow_up}: exit {follow.returncode}\n{follow.stderr[-800:]}")
    if 0 < len(migrated) < FILES:  # killed among the writes: each written file is put back, and named
        wanted = [{name: "restored" for name in migrated}]
    elif migrated:  # killed after the last write: every file kept, or the journal was already gone
        wanted = [{}, {name: "kept" for name in tree.changing}]
    else:  # killed before the first write: nothing to say
        wanted = [{}]
    if said not in wanted:
        problems.append(f"{follow_up}: {len(migrated)} files were migrated after the kill, it said {said}:\n"
                        f"{follow.stderr[-1500:]}")
    want = "original" if follow_up == "restore" and len(migrated) < FILES else "migrated"
    if not tree.all(want):
        problems.append(f"{follow_up}: afterwards {sorted(tree.states().items())}, wanted every file {want}")
    final = follow if follow_up == "apply" else run_cli("migrate", ".", "--apply", cwd=tree.root)
    if final.returncode != 0 or not tree.all("migrated"):
        problems.append(f"the last --apply: exit {final.returncode}, {tree.states()}\n{final.stderr[-800:]}")
    if final is not follow and RECOVERY.search(final.stderr):
        problems.append(f"the last --apply recovered again: {final.stderr[:400]}")
    journal = tree.root / ".inplace-fix" / "journal"
    if journal.is_dir() and any(journal.iterdir()):
        problems.append(f"a journal is left: {sorted(p.name for p in journal.iterdir())}")
    temps = sorted(str(p.relative_to(tree.root)) for p in tree.root.rglob("*.ipf-tmp"))
    if temps:
        problems.append(f"temporary files of the killed run's writes are left: {temps}")
    return problems


def _moments() -> list[tuple[str, float, str]]:
    """(how, delay, follow-up): kills at seeded moments of the whole run (a fraction of its
    duration), while it journals, and among its writes (40 files take some 40 ms)."""
    rng = random.Random(SEED)
    spread = [("timed", (k + rng.random()) / 3, follow) for k, follow in enumerate(("restore", "apply", "restore"))]
    return spread + [("journal", 0.0, "apply"), ("first-write", 0.0, "restore"),
                     ("first-write", 0.004 + 0.02 * rng.random(), "apply"),
                     ("first-write", 0.004 + 0.02 * rng.random(), "restore")]


@pytest.mark.parametrize(("how", "fraction", "follow_up"), _moments())
def test_kill9_leaves_every_file_original_or_migrated(tree, how: str, fraction: float, follow_up: str) -> None:
    project, seconds = tree
    delay = fraction * seconds if how == "timed" else fraction
    after_kill = _kill(project, how, delay)
    other = sorted(name for name, state in after_kill.items() if state == "other")
    assert not other, f"kill at {how} {delay:.2f}s: files neither original nor migrated: {other}"
    left = _left_behind(project.root)
    reap(left)
    assert not left, f"kill at {how} {delay:.2f}s: {len(left)} worker(s) of the killed run still alive"
    problems = _check_follow_up(project, after_kill, follow_up)
    assert not problems, f"kill at {how} {delay:.2f}s, {sorted(after_kill.values()).count('migrated')} " \
                         "files migrated:\n" + "\n".join(problems)
