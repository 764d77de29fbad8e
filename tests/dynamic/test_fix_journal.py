"""A run killed mid-write is undone by the next one; two writing runs never overlap.

The journal and the lock are what make `kill -9` during `--apply` harmless: these
tests leave a journal exactly as a killed run would (no `close()`), or hold the lock
from another process, and check what the user's files and the next run show.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main
from inplace_fix.fileio import read_source
from inplace_fix.journal import Journal, recover
from inplace_fix.project_lock import LockBusy, ProjectLock

ORIGINAL = b"# caf\xc3\xa9\r\nx = 1\r\n"
FIXED = b"# caf\xc3\xa9\r\nx = 2\r\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # the project root
    (tmp_path / "train.py").write_bytes(ORIGINAL)
    os.chmod(tmp_path / "train.py", 0o640)
    return tmp_path


def _die_after_write(project: Path, verified: bool = False, files: tuple[str, ...] = ("train.py",),
                     written: int | None = None) -> None:
    """What a run killed right after writing leaves: the journal, and the files written."""
    journal = Journal(project)
    if verified:
        journal.mark_verified()
    for number, name in enumerate(files):
        source = read_source(project / name)
        journal.will_write(source, FIXED)
        if written is None or number < written:
            (project / name).write_bytes(FIXED)


def test_an_unverified_edit_left_by_a_killed_run_is_restored(project: Path) -> None:
    _die_after_write(project)
    assert (project / "train.py").read_bytes() == FIXED
    done = recover(project)
    assert [(r.path.name, r.action) for r in done] == [("train.py", "restored")]
    assert (project / "train.py").read_bytes() == ORIGINAL
    assert oct(os.stat(project / "train.py").st_mode & 0o777) == "0o640"
    assert recover(project) == [], "a journal is undone once"
    assert (project / ".inplace-fix" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_verified_fix_that_finished_writing_is_kept(project: Path) -> None:
    _die_after_write(project, verified=True)
    assert [r.action for r in recover(project)] == ["kept-fix"]
    assert (project / "train.py").read_bytes() == FIXED


def test_a_verified_fix_written_half_way_goes_back_entirely(project: Path) -> None:
    (project / "model.py").write_bytes(ORIGINAL)
    _die_after_write(project, verified=True, files=("model.py", "train.py"), written=1)
    actions = {r.path.name: r.action for r in recover(project)}
    assert actions == {"model.py": "restored", "train.py": "unchanged"}
    assert (project / "model.py").read_bytes() == ORIGINAL == (project / "train.py").read_bytes()


def test_a_file_changed_after_the_crash_is_left_alone_with_its_original_kept(project: Path) -> None:
    _die_after_write(project)
    (project / "train.py").write_bytes(b"the user's own edit\n")
    [item] = recover(project)
    assert item.action == "changed-since"
    assert (project / "train.py").read_bytes() == b"the user's own edit\n"
    assert item.kept_copy is not None and item.kept_copy.read_bytes() == ORIGINAL


def test_the_next_dry_run_and_restore_say_what_they_restored(project: Path) -> None:
    _die_after_write(project)
    result = CliRunner().invoke(main, ["restore", str(project)])
    assert result.exit_code == 0
    assert f"restored {project / 'train.py'} to its original bytes: a run that did not finish" in result.output
    assert (project / "train.py").read_bytes() == ORIGINAL
    again = CliRunner().invoke(main, ["restore", str(project)])
    assert again.exit_code == 0 and "nothing to restore" in again.output


def test_a_dry_run_restores_first(project: Path) -> None:
    (project / "train.py").write_bytes(b"import sys\n")
    original = (project / "train.py").read_bytes()
    journal = Journal(project)
    journal.will_write(read_source(project / "train.py"), b"import os\n")
    (project / "train.py").write_bytes(b"import os\n")
    proc = subprocess.run([sys.executable, "-m", "inplace_fix", "train.py"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert "restored train.py" in proc.stderr, proc.stderr
    assert (project / "train.py").read_bytes() == original
    assert proc.returncode == 0  # and then diagnosed the user's own code: clean


HOLDER = textwrap.dedent("""
    import sys, time
    from inplace_fix.project_lock import ProjectLock
    lock = ProjectLock(sys.argv[1]); lock.acquire()
    print("held", flush=True)
    time.sleep(60)
    """)


def _hold(project: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_apply_waits_then_exits_2_touching_nothing(project: Path) -> None:
    holder = _hold(project)
    try:
        started = time.monotonic()
        with pytest.raises(LockBusy, match=rf"another inplace-fix --apply is running in .* \(pid {holder.pid}\)"):
            ProjectLock(project, wait=0.5).acquire()
        assert time.monotonic() - started >= 0.5
        proc = subprocess.run([sys.executable, "-m", "inplace_fix", "train.py", "--apply"], cwd=project,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "another inplace-fix --apply is running" in proc.stderr
        assert (project / "train.py").read_bytes() == ORIGINAL
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_run_is_free_at_once(project: Path) -> None:
    holder = _hold(project)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = ProjectLock(project, wait=0.0)
    lock.acquire()  # the kernel dropped the dead run's flock: no stale lock
    lock.release()
