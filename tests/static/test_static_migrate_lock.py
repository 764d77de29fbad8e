"""`migrate --apply` keeps the promises of `inplace-fix SCRIPT --apply`: one writing run per
project (a held lock is waited for, then exit 2 with nothing written), a dead run's journal
undone and reported first, writes under the journal; a dry run takes no lock at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from diagnose_helpers import cli_command
from inplace_fix.batch_write import BatchWrite
from inplace_fix.journal import STATE_DIR
from inplace_fix.lint import LintOptions, lint_file
from inplace_fix.project_lock import WAIT_S, ProjectLock
from inplace_fix.workset import default_codes
from static_helpers import NET

FIXED = NET.replace("nn.ReLU(inplace=True)", "nn.ReLU()").replace("F.relu(x, inplace=True)", "F.relu(x)")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)


def project(root: Path, count: int = 3) -> dict[str, str]:
    """`count` modules with NET's two fixable findings, and one clean module."""
    files = {f"m{i}.py": NET for i in range(count)} | {"clean.py": "x = 1\n"}
    for name, text in files.items():
        (root / name).write_text(text)
    return files


def contents(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(root.glob("*.py"))}


def journal_files(root: Path) -> list[str]:
    base = root / STATE_DIR / "journal"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*")) if base.is_dir() else []


@pytest.fixture
def held(tmp_path: Path):
    """The project's lock, held by this process as a running `--apply` would hold it."""
    project(tmp_path)
    lock = ProjectLock(tmp_path.resolve())
    assert lock.try_acquire()
    try:
        yield tmp_path
    finally:
        lock.release()


def test_a_held_lock_makes_migrate_apply_wait_then_exit_2_having_written_nothing(held: Path) -> None:
    before = contents(held)
    start = time.monotonic()
    result = cli("migrate", ".", "--apply", cwd=held)
    waited = time.monotonic() - start
    assert result.returncode == 2, result.stdout + result.stderr
    assert (f"another inplace-fix --apply is running in {held.resolve()} (pid {os.getpid()}); "
            f"waited {WAIT_S:g} s and touched nothing") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    assert waited >= WAIT_S
    assert contents(held) == before
    assert journal_files(held) == []


def test_a_dry_run_takes_no_lock_and_runs_while_an_apply_holds_it(held: Path) -> None:
    start = time.monotonic()
    result = cli("migrate", ".", cwd=held)
    assert time.monotonic() - start < WAIT_S  # it did not wait for the lock
    assert result.returncode == 1, result.stderr
    assert "--- a/m0.py\n+++ b/m0.py\n" in result.stdout
    assert "3 files would change" in result.stderr
    assert contents(held)["m0.py"] == NET


def test_a_dry_run_leaves_no_state_folder_behind(tmp_path: Path) -> None:
    project(tmp_path)
    assert cli("migrate", ".", cwd=tmp_path).returncode == 1
    assert not (tmp_path / STATE_DIR).exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX only")
def test_a_forked_worker_does_not_keep_the_project_locked(tmp_path: Path) -> None:
    """A flock belongs to the open file, which fork shares: a worker still holding it would keep
    the project locked after its parent ended (or was killed with SIGKILL)."""
    lock = ProjectLock(tmp_path)
    assert lock.try_acquire()
    ready, tell = os.pipe()
    child = os.fork()
    if child == 0:  # a worker that outlives its parent's hold on the lock
        os.write(tell, b"x")  # fork has returned here: whatever runs after a fork in the child has run
        time.sleep(30)
        os._exit(0)
    try:
        os.read(ready, 1)
        lock.release()
        after = ProjectLock(tmp_path)
        assert after.try_acquire(), "the forked child still holds the project's lock"
        after.release()
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(ready)
        os.close(tell)


# A run that died after writing an unverified edit through its journal (as a killed
# `inplace-fix train.py --apply` can leave one), simulated by a process that exits at once.
DEAD_RUN = textwrap.dedent("""\
    import os, sys
    from inplace_fix.fileio import read_source, write_atomic
    from inplace_fix.journal import Journal
    source = read_source(sys.argv[1])
    edit = source.data + b"unverified = True\\n"
    Journal(sys.argv[2]).will_write(source, edit)
    write_atomic(source.path, edit, source.mode)
    os._exit(0)
    """)


def test_a_dead_runs_journal_is_restored_and_reported_before_migrate_writes(tmp_path: Path) -> None:
    project(tmp_path)
    dead = subprocess.run([sys.executable, "-c", DEAD_RUN, str(tmp_path / "m1.py"), str(tmp_path.resolve())],
                          capture_output=True, text=True, timeout=60)
    assert dead.returncode == 0, dead.stderr
    assert "unverified = True" in (tmp_path / "m1.py").read_text()
    result = cli("migrate", ".", "--apply", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("inplace-fix: restored m1.py to its original bytes: a run that did not finish (pid "
            in result.stderr.splitlines()[0]), result.stderr
    assert "had left an unverified edit" in result.stderr
    # migrated from the original bytes, not from the dead run's edit
    assert contents(tmp_path) == {"clean.py": "x = 1\n", "m0.py": FIXED, "m1.py": FIXED, "m2.py": FIXED}
    assert journal_files(tmp_path) == []
    again = cli("restore", ".", cwd=tmp_path)
    assert "nothing to restore" in again.stderr


def test_apply_leaves_no_journal_and_keeps_hard_links(tmp_path: Path) -> None:
    project(tmp_path, count=1)
    other = tmp_path / "elsewhere"
    other.mkdir()
    os.link(tmp_path / "m0.py", other / "same.txt")
    result = cli("migrate", "m0.py", "--apply", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "rewrote m0.py (IPF004 x2)\n"
    assert (other / "same.txt").read_text() == FIXED  # one file still: both names see the rewrite
    assert os.path.samefile(tmp_path / "m0.py", other / "same.txt")
    assert journal_files(tmp_path) == []


def test_a_file_changed_after_it_was_read_is_left_alone(tmp_path: Path) -> None:
    """Another program saves a file between migrate's read and its write: its edit stays."""
    project(tmp_path, count=2)
    root = tmp_path.resolve()
    options = LintOptions(rules=frozenset(default_codes()), fix=True, write=True)
    with BatchWrite([root]) as batch:
        staged = [batch.stage(lint_file(root / name, name, options)) for name in ("m0.py", "m1.py")]
        (root / "m1.py").write_text(NET + "# saved by an editor\n")
        results = batch.commit(staged)
    assert [r.written for r in results] == [True, False]
    assert results[1].error is not None and "changed after migrate read it" in results[1].error
    assert (root / "m0.py").read_text() == FIXED
    assert (root / "m1.py").read_text() == NET + "# saved by an editor\n"
    assert journal_files(root) == []


def test_an_interrupted_write_phase_puts_every_written_file_back(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C (or SIGTERM) among the writes: the files already written get their originals back."""
    import inplace_fix.batch_write as batch_write

    project(tmp_path, count=3)
    root = tmp_path.resolve()
    options = LintOptions(rules=frozenset(default_codes()), fix=True, write=True)
    real, calls = batch_write.write_atomic, []

    def interrupted(path, data, mode=None):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(path, data, mode)

    monkeypatch.setattr(batch_write, "write_atomic", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with BatchWrite([root]) as batch:
            batch.commit([batch.stage(lint_file(root / f"m{i}.py", f"m{i}.py", options)) for i in range(3)])
    assert len(calls) == 3
    assert contents(root) == {"clean.py": "x = 1\n", "m0.py": NET, "m1.py": NET, "m2.py": NET}
    assert journal_files(root) == []
