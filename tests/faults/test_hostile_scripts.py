"""Scripts that fight the tool: each run ends in bounded time and leaves no process behind.

An infinite loop and a script ignoring SIGTERM (both under --timeout 3), a script that starts
a setsid double-forked daemon, one that prints ~50 MB (the tool's own memory stays far below
that), one that changes directory before its error (still diagnosed, both lines named, by
relative path); and SIGKILL of the tool while its script (and the script's daemon) runs.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from fault_project import PIDS, make_project, marked, reap, recorded, run_cli, scratch_dirs, start_cli, strays
from fault_trials import STRAY_WAIT

BOUND = 30.0  # "ends within 30 s": generous, only a hang fails it

# A daemon the way a service starts one: fork, setsid, fork again; the grandchild outlives
# its parents unless something kills it on purpose.
DAEMON = textwrap.dedent('''\
    def _daemon(seconds):
        import time
        pid = _os.fork()
        if pid == 0:
            _os.setsid()
            if _os.fork() == 0:
                _mark()
                time.sleep(seconds)
                _os._exit(0)
            _os._exit(0)
        _os.waitpid(pid, 0)
    ''')

INPLACE_ERROR = textwrap.dedent('''\
    import torch

    def broken():
        x = torch.randn(4, 3, requires_grad=True)
        y = torch.tanh(x)
        y += 1
        y.sum().backward()
    ''')

SCRIPTS = {
    "loop": "while True:\n    pass\n",
    "sigterm": ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "while True:\n    time.sleep(0.05)\n"),
    "daemon": DAEMON + INPLACE_ERROR + "_daemon(120)\nbroken()\n",
    "flood": (INPLACE_ERROR + "import sys\nline = 'x' * 1023 + '\\n'\n"
              "for _ in range(50_000):\n    sys.stdout.write(line)\nbroken()\n"),
    "sleeper": DAEMON + "import time\n_daemon(120)\ntime.sleep(120)\n",
}


def _project(tmp_path: Path, name: str, body: str) -> Path:
    root = tmp_path / f"hostile-{name}"
    root.mkdir()
    (tmp_path / f"hostile-{name}-tmp").mkdir()
    (root / "script.py").write_text(PIDS + body, encoding="utf-8")
    return root


def _tmp(root: Path) -> Path:
    return root.parent / f"{root.name}-tmp"


def _run_bounded(root: Path, *args: str) -> tuple[int, str, float, list[int]]:
    start = time.monotonic()
    run = start_cli("script.py", *args, cwd=root, tmp=_tmp(root))
    code, output = run.wait(BOUND)
    seconds = time.monotonic() - start
    left = strays(root, STRAY_WAIT)
    reap(left)
    return (-1 if code is None else code), output, seconds, left


@pytest.mark.parametrize("name", ["loop", "sigterm"])
def test_a_script_that_never_ends_stops_at_the_timeout(tmp_path: Path, name: str) -> None:
    root = _project(tmp_path, name, SCRIPTS[name])
    code, output, seconds, left = _run_bounded(root, "--timeout", "3")
    assert code == 3, f"exit {code} after {seconds:.1f}s (-1: still running at {BOUND:.0f}s)\n{output[-1500:]}"
    assert left == [], f"processes of the script still alive: {left}"
    assert scratch_dirs(_tmp(root)) == []


def test_a_daemon_started_by_the_script_does_not_outlive_the_run(tmp_path: Path) -> None:
    root = _project(tmp_path, "daemon", SCRIPTS["daemon"])
    code, output, seconds, left = _run_bounded(root)
    assert code == 1, f"exit {code}\n{output[-1500:]}"
    assert "script.py" in output
    assert left == [], f"the daemon (or another process of the script) is still alive: {left}"


def _peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _runs_torch(pid: int) -> bool:
    """The script's side (the engine never imports torch)."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8") as f:
            return "libtorch" in f.read()
    except OSError:
        return False


def test_a_script_printing_50_mb_is_diagnosed_and_the_tool_stays_small(tmp_path: Path) -> None:
    root = _project(tmp_path, "flood", SCRIPTS["flood"])
    run = start_cli("script.py", cwd=root, tmp=_tmp(root))
    peaks: dict[int, int] = {}
    script_side: set[int] = set()
    deadline = time.monotonic() + 120
    while run.proc.poll() is None and time.monotonic() < deadline:
        # every process of the run: the tool and any helper of its own, and the script's
        for pid in {run.pid, *marked(root.name)}:
            if pid in script_side or pid in recorded(root) or _runs_torch(pid):
                script_side.add(pid)
            else:
                peaks[pid] = max(peaks.get(pid, 0), _peak_rss_kb(pid))
        time.sleep(0.02)
    code, _ = run.wait(1)
    stdout_size, stderr = run.out_path.stat().st_size, run.stderr()
    left = strays(root, STRAY_WAIT)
    reap(left)
    assert code == 1, f"exit {code}\n{stderr[-1500:]}"
    assert "script.py" in (stderr + run.out_path.read_bytes()[-20_000:].decode("utf-8", "replace"))
    # the engine without torch is ~35 MB; holding the script's 50 MB of output (as bytes and
    # text) would add 100 MB or more
    tool = {pid: kb for pid, kb in peaks.items() if pid not in script_side}
    assert tool and max(tool.values()) < 130_000, \
        f"the tool's processes peaked at {[kb // 1024 for kb in tool.values()]} MB (the script printed 50 MB; " \
        f"{stdout_size // 2**20} MB reached the tool's stdout)"
    assert left == []


def test_a_script_that_changes_directory_is_still_diagnosed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "hostile-chdir", "script")
    text = project.script.read_text(encoding="utf-8")
    project.script.write_text(text.replace("    torch.manual_seed(0)\n",
                                           "    os.chdir(os.path.dirname(os.getcwd()))\n    torch.manual_seed(0)\n")
                              .replace("import time\n", "import os\nimport time\n", 1), encoding="utf-8")
    lines = project.script.read_text(encoding="utf-8").splitlines()
    modified = next(i for i, line in enumerate(lines, 1) if line.strip() == "out += 1")
    saved = next(i for i, line in enumerate(lines, 1) if line.strip() == "out = torch.tanh(out)")
    result = run_cli("train.py", "--json", cwd=project.root, tmp=project.tmp, timeout=BOUND * 4)
    assert result.returncode == 1, result.stdout[-1000:] + result.stderr[-1500:]
    problems = json.loads(result.stdout)["problems"]
    sites = [(p["modified_at"]["file"], p["modified_at"]["line"], p["saved_at"]["file"], p["saved_at"]["line"])
             for p in problems]
    assert sites == [("train.py", modified, "train.py", saved)]


def test_kill9_of_the_tool_takes_the_script_and_its_daemon_along(tmp_path: Path) -> None:
    root = _project(tmp_path, "sleeper", SCRIPTS["sleeper"])
    run = start_cli("script.py", cwd=root, tmp=_tmp(root))
    deadline = time.monotonic() + BOUND
    while len(recorded(root)) < 2 and time.monotonic() < deadline and run.proc.poll() is None:
        time.sleep(0.05)  # both the script and its daemon are up
    assert len(recorded(root)) >= 2, f"the script did not start:\n{run.output()[-1500:]}"
    run.kill9()
    left = strays(root, STRAY_WAIT)
    reap(left)
    assert left == [], f"{len(left)} process(es) of the script outlived the tool by {STRAY_WAIT:.0f}s"
    # the next run (any run that makes a scratch folder) sweeps the dead run's scratch folders
    (root / "script.py").write_text("print('hello')\n", encoding="utf-8")
    after = run_cli("script.py", cwd=root, tmp=_tmp(root), timeout=BOUND * 4)
    assert after.returncode == 0, after.stderr[-1500:]
    assert scratch_dirs(_tmp(root)) == []
