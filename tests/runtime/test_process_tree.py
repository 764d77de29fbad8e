"""The script's whole process tree ends with the run, whatever happens to the tool.

Real processes: `python -m inplace_fix` on small scripts that write their pids to a
file, then the tool is killed with SIGKILL (a cancelled CI job, the OOM killer), frozen
with SIGSTOP, or left to end normally while the script leaves a `setsid` daemon behind.
Also: no scratch folder outlives a killed run (the supervisor removes it, and the next
run sweeps what a killed supervisor left), and the script's output is streamed with
bounded memory.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inplace_fix import scratch
from inplace_fix.fixer.runtime_client import TAIL_CHARS
from inplace_fix.launcher import KILL_GRACE_S

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process groups are POSIX")
LINUX = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")

# Writes its pid and its child's to argv[1], then loops until it is stopped.
LOOP = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(0.01)
"""
# Leaves a daemon (double fork, its own session) that writes its pid to argv[1], then ends normally.
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1] + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(600)
    os._exit(0)
until = time.monotonic() + 30
while not os.path.exists(sys.argv[1]) and time.monotonic() < until:
    time.sleep(0.01)
print("main part done")
"""
# ~50 MB of output, then waits for argv[1] to exist before its last line.
CHATTY = """
import os, sys, time
print("FIRST LINE", flush=True)
line = "x" * 1023 + "\\n"
for _ in range(50 * 1024):
    sys.stdout.write(line)
sys.stdout.flush()
until = time.monotonic() + 60
while not os.path.exists(sys.argv[1]) and time.monotonic() < until:
    time.sleep(0.02)
print("LAST LINE")
"""
# Runs runtime_client.run in a process of its own, echoing to stderr; prints its memory use as JSON.
DRIVER = """
import json, resource, sys
from pathlib import Path
from inplace_fix.fixer import runtime_client
from inplace_fix.request import Request

script, go, report = sys.argv[1:4]
request = Request(script=script, args=(go,), cwd=str(Path(script).parent), timeout=120, steps=1)
scale = 1 if sys.platform == "darwin" else 1024
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
result = runtime_client.run(request, Path(report), echo=sys.stderr)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
print(json.dumps({"before": before, "after": after, "tail": result.output, "rc": result.returncode}))
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie (a reparented zombie may wait for a reaper that a container lacks)."""
    if Path("/proc/self/stat").exists():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (FileNotFoundError, ProcessLookupError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone_within(pids: list[int], seconds: float) -> float:
    """Seconds until none of `pids` runs; fails after `seconds`."""
    started = time.monotonic()
    while any(_alive(p) for p in pids):
        assert time.monotonic() - started < seconds, f"still running: {[p for p in pids if _alive(p)]}"
        time.sleep(0.02)
    return time.monotonic() - started


def _pids(path: Path, proc: subprocess.Popen, seconds: float = 60) -> list[int]:
    """The pids the script wrote, once it is running."""
    until = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, f"the tool ended (exit {proc.returncode}) before the script started"
        assert time.monotonic() < until, "the script never started"
        time.sleep(0.02)
    return [int(p) for p in path.read_text().split()]


def _temp(tmp_path: Path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir(exist_ok=True)
    return folder


def _tool(tmp_path: Path, source: str, *args: str) -> subprocess.Popen:
    """`python -m inplace_fix script.py ARGS` with its own temp dir (TMPDIR), output to files."""
    (tmp_path / "script.py").write_text(source, encoding="utf-8")
    env = {**os.environ, "TMPDIR": str(_temp(tmp_path))}
    with open(tmp_path / "out.txt", "ab") as out, open(tmp_path / "err.txt", "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "inplace_fix", "script.py", *args], cwd=tmp_path, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)


def _scratch_folders(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in _temp(tmp_path).iterdir() if p.name.startswith(scratch.PREFIX))


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return out


def _kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_kill_9_of_the_tool_ends_the_script_and_its_child(tmp_path: Path) -> None:
    proc = _tool(tmp_path, LOOP, "--", str(tmp_path / "pids"))
    try:
        pids = _pids(tmp_path / "pids", proc)
        _kill_9(proc)
        seconds = _gone_within(pids, KILL_GRACE_S + 3)  # the script used to run on at 100% CPU
    finally:
        proc.kill()
    assert seconds < KILL_GRACE_S + 3


@LINUX
def test_a_setsid_daemon_of_the_script_ends_with_the_run(tmp_path: Path) -> None:
    proc = _tool(tmp_path, DAEMON, "--", str(tmp_path / "pid"))
    try:
        assert proc.wait(timeout=120) == 0, (tmp_path / "err.txt").read_text()
    finally:
        proc.kill()
    daemon = [int((tmp_path / "pid").read_text())]
    _gone_within(daemon, 1.0)  # ended before the tool returned; the second is for a slow /proc


def test_the_timeout_holds_while_the_tool_is_frozen(tmp_path: Path) -> None:
    budget = 6.0
    started = time.monotonic()
    proc = _tool(tmp_path, LOOP, "--timeout", str(budget), "--", str(tmp_path / "pids"))
    try:
        pids = _pids(tmp_path / "pids", proc, budget)
        proc.send_signal(signal.SIGSTOP)
        _gone_within(pids, budget + KILL_GRACE_S + 5)
        assert proc.poll() is None  # still frozen: the supervisor kept the deadline
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=30) == 3
    finally:
        proc.kill()
    assert time.monotonic() - started < budget + KILL_GRACE_S + 10
    assert "timed out after 6 s" in (tmp_path / "err.txt").read_text()


@LINUX
def test_the_scratch_folder_goes_with_a_killed_tool(tmp_path: Path) -> None:
    proc = _tool(tmp_path, LOOP, "--", str(tmp_path / "pids"))
    try:
        pids = _pids(tmp_path / "pids", proc)
        assert len(_scratch_folders(tmp_path)) == 1  # the diagnosis run's report folder
        _kill_9(proc)
        _gone_within(pids, KILL_GRACE_S + 3)
        until = time.monotonic() + 5
        while _scratch_folders(tmp_path) and time.monotonic() < until:
            time.sleep(0.02)
    finally:
        proc.kill()
    assert _scratch_folders(tmp_path) == []


@LINUX
def test_the_next_run_sweeps_what_a_killed_supervisor_left(tmp_path: Path) -> None:
    pids: list[int] = []
    proc = _tool(tmp_path, LOOP, "--", str(tmp_path / "pids"))
    try:
        pids = _pids(tmp_path / "pids", proc)
        supervisors = _children(proc.pid)
        assert len(supervisors) == 1
        os.kill(supervisors[0], signal.SIGKILL)  # the OOM killer may take both
        _kill_9(proc)
        _gone_within(pids[:1], KILL_GRACE_S + 3)  # the script dies with its supervisor (PDEATHSIG)
    finally:
        proc.kill()
        for pid in pids[1:]:  # its own child has nobody left to end it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    left = _scratch_folders(tmp_path)
    assert len(left) == 1 and scratch.owner_pid(left[0]) == proc.pid  # nobody was left to remove it
    second = _tool(tmp_path, "print('quick')\n")
    assert second.wait(timeout=120) == 0, (tmp_path / "err.txt").read_text()
    assert _scratch_folders(tmp_path) == []


def test_sweep_removes_only_this_users_folders_of_ended_processes(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"{scratch.PREFIX}{ended.pid}-abc123"
    live = tmp_path / f"{scratch.PREFIX}{os.getpid()}-abc123"
    other = tmp_path / f"{scratch.PREFIX}abc123"  # a TemporaryDirectory of an older version: no owner
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "report.json").write_text("{}")
    removed = scratch.sweep_stale(str(tmp_path))
    assert removed == (str(dead),)
    assert not dead.exists() and live.exists() and other.exists()


@LINUX
def test_sweep_tells_a_reused_pid_from_the_owner(tmp_path: Path) -> None:
    with scratch.scratch_dir() as mine:
        ticks = Path(mine).name.split("-")[3]
        reused = tmp_path / f"{scratch.PREFIX}{os.getpid()}-{int(ticks) - 1}-abc123"  # our pid, earlier owner
        reused.mkdir()
        (tmp_path / Path(mine).name).mkdir()  # the same name as a live folder: kept
        assert scratch.sweep_stale(str(tmp_path)) == (str(reused),)
        assert Path(mine).is_dir() and (tmp_path / Path(mine).name).is_dir()
    assert not Path(mine).exists()


def test_output_is_streamed_and_the_tool_keeps_only_a_tail(tmp_path: Path) -> None:
    script, go = tmp_path / "chatty.py", tmp_path / "go"
    script.write_text(CHATTY, encoding="utf-8")
    echoed = tmp_path / "echoed.txt"
    with open(echoed, "wb") as err:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(script), str(go), str(tmp_path / "r.json")],
                                  cwd=tmp_path, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        until = time.monotonic() + 60
        while echoed.stat().st_size < 50 * 1024 * 1024:  # all of it shown while the script still runs
            assert driver.poll() is None and time.monotonic() < until, echoed.read_text()[-2000:]
            time.sleep(0.05)
        go.touch()
        out, _ = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 0, echoed.read_text()[-2000:]
    result = json.loads(out)
    text = echoed.read_text()
    assert text.startswith("FIRST LINE\n") and text.endswith("LAST LINE\n") and len(text) > 50 * 1024 * 1024
    assert len(result["tail"]) <= TAIL_CHARS and result["tail"].endswith("x\nLAST LINE\n")
    grown = result["after"] - result["before"]
    assert grown < 16 * 1024 * 1024, f"peak RSS grew by {grown / 2**20:.0f} MiB for 50 MiB of output"
