"""Scratch projects and process bookkeeping for the fault tests and `benchmarks/fault_injection.py`.

A project is a folder with `train.py` importing `model.py`; `--apply` fixes its one in-place
error in a few seconds on CPU. Every process the project's scripts start writes its pid (and
start time) into `<project>/.pids/`, and the tool runs with TMPDIR in a folder named after the
project, which every child inherits: a process left behind by a killed run is found either way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from diagnose_helpers import cli_command  # noqa: E402

# Every script of a project records each of its processes here (the daemon's too).
PIDS = textwrap.dedent('''\
    import os as _os
    _PIDS = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), ".pids")
    def _mark():
        _os.makedirs(_PIDS, exist_ok=True)
        with open("/proc/self/stat") as _f:
            _start = _f.read().rsplit(")", 1)[1].split()[19]
        with open(_os.path.join(_PIDS, str(_os.getpid())), "w") as _f:
            _f.write(_start)
    _mark()
    ''')

MODEL_BROKEN = textwrap.dedent('''\
    import torch.nn as nn


    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(5, 16),
                nn.Tanh(),
                nn.ReLU(inplace=True),
                nn.Linear(16, 2),
            )

        def forward(self, obs):
            return self.body(obs)
    ''')
MODEL_FIXED = MODEL_BROKEN.replace("nn.ReLU(inplace=True)", "nn.ReLU()")

MODEL_CLEAN = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(5, 2)

        def forward(self, obs):
            return torch.tanh(self.body(obs))
    ''')

TRAIN = textwrap.dedent('''\
    import time

    import torch

    from model import Policy


    def main():
        torch.manual_seed(0)
        policy = Policy()
        opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
        obs = torch.randn(16, 5)
        target = torch.randn(16, 2)
        for step in range(3):
            opt.zero_grad()
            out = policy(obs)
            {edit}
            loss = (out - target).pow(2).mean()
            print(f"step {{step}} loss {{loss.item()!r}}")
            loss.backward()
            opt.step()


    if __name__ == "__main__":
        {before}main()
    ''')

# The write-site rewrite (`token = token + self.pos`) changes decoder B's loss, so the verifier
# refutes it; the second candidate (clone where decoder A's Linear saves it) verifies.
MODEL_REFUTED = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class PosDecoder(nn.Module):
        def __init__(self, dim=8):
            super().__init__()
            self.pos = nn.Parameter(torch.randn(dim) * 0.1)
            self.fc = nn.Linear(dim, dim)

        def forward(self, token):
            token += self.pos
            return self.fc(token)


    class Policy(nn.Module):
        def __init__(self, dim=8):
            super().__init__()
            self.quant = nn.Linear(5, dim)
            self.dec_a = PosDecoder(dim)
            self.dec_b = PosDecoder(dim)
            self.out = nn.Linear(2 * dim, 2)

        def forward(self, obs):
            quant = self.quant(obs)
            return self.out(torch.cat([self.dec_a(quant), self.dec_b(quant)], dim=1))
    ''')
REFUTED_FIX = ("return self.fc(token)", "return self.fc(token.clone())")

# The in-place error in the script itself: tanh saved its output, `+=` overwrites it.
SCRIPT_EDIT = ("out = torch.tanh(out)\n        out += 1", "out = torch.tanh(out)\n        out = out + 1")


# Two problems in one forward, one per file: one round's fix writes model.py and train.py.
MODEL_TWO = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fa = nn.Linear(5, 2)
            self.bias = nn.Parameter(torch.zeros(2))

        def forward(self, obs):
            a = torch.sigmoid(self.fa(obs))
            a += self.bias
            return a
    ''')
TWO_FIX = ("a += self.bias", "a = a + self.bias")

FIXES = {  # where -> {file: (before, after)}: the fix, written by hand
    "module": {"model.py": ("nn.ReLU(inplace=True)", "nn.ReLU()")},
    "refuted": {"model.py": REFUTED_FIX},
    "script": {"train.py": SCRIPT_EDIT},
    "two": {"model.py": TWO_FIX, "train.py": SCRIPT_EDIT},
}
MODELS = {"module": MODEL_BROKEN, "refuted": MODEL_REFUTED, "script": MODEL_CLEAN, "two": MODEL_TWO}


@dataclass(frozen=True)
class Project:
    """A scratch project; `script` is what the tool is given, `edited` what the fix rewrites."""

    root: Path
    script: Path
    edited: tuple[Path, ...]
    originals: tuple[bytes, ...]
    fixes: tuple[bytes, ...]  # each edited file as the verified fix leaves it (written by hand)

    @property
    def marker(self) -> str:
        return self.root.name

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(path.name for path in self.edited)

    @property
    def tmp(self) -> Path:
        """The tool's temp directory for this project (TMPDIR): its scratch folders land here."""
        return self.root.parent / f"{self.root.name}-tmp"

    def current(self) -> tuple[bytes, ...]:
        return tuple(path.read_bytes() for path in self.edited)

    def reset(self) -> None:
        """Back to the broken original, no journal, no pids: the state before any run."""
        for path, data in zip(self.edited, self.originals):
            path.write_bytes(data)
        shutil.rmtree(self.root / ".inplace-fix", ignore_errors=True)
        shutil.rmtree(self.root / ".pids", ignore_errors=True)
        for scratch in self.tmp.glob("inplace-fix-*"):
            shutil.rmtree(scratch, ignore_errors=True)


def make_project(dest: Path, where: str = "module", sleep: float = 0.0) -> Project:
    """A broken project in `dest` (which must be new; its name is the processes' marker).

    where: "module" -> the fix lands in model.py; "script" -> in train.py; "refuted" -> in
    model.py, after a first candidate that the verifier refutes (it changes the loss); "two" ->
    in both files at once (one write of two files).
    sleep: seconds the script sleeps before training (to hold an `--apply` for a while).
    """
    dest.mkdir(parents=True)
    (dest.parent / f"{dest.name}-tmp").mkdir()
    before = f"time.sleep({sleep!r})\n    " if sleep else ""
    edit = SCRIPT_EDIT[0] if "train.py" in FIXES[where] else "pass"
    (dest / "model.py").write_text(PIDS + MODELS[where], encoding="utf-8")
    (dest / "train.py").write_text(PIDS + TRAIN.format(edit=edit, before=before), encoding="utf-8")
    edited = tuple(dest / name for name in sorted(FIXES[where]))
    originals = tuple(path.read_bytes() for path in edited)
    fixes = tuple(data.replace(*(part.encode() for part in FIXES[where][path.name]))
                  for path, data in zip(edited, originals))
    return Project(dest, dest / "train.py", edited, originals, fixes)


def env(tmp: Path | None = None) -> dict[str, str]:
    out = {**os.environ, "NO_COLOR": "1"}
    if tmp is not None:
        out["TMPDIR"] = str(tmp)
    return out


class Running:
    """The real console script started in its own session, its output going to files (a pipe
    would keep a reader waiting for as long as any orphan of the script holds it open)."""

    def __init__(self, args: list[str], cwd: Path, tmp: Path | None, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = logs / f"{time.monotonic_ns()}.out", logs / f"{time.monotonic_ns()}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([*cli_command(), *args], cwd=str(cwd), env=env(tmp),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        self.pid = self.proc.pid

    def wait(self, timeout: float = 180) -> tuple[int | None, str]:
        """Exit code (None if it had to be killed at `timeout`) and stdout + stderr."""
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            code = None
        return code, self.output()

    def output(self) -> str:
        return (self.out_path.read_bytes() + self.err_path.read_bytes()).decode("utf-8", "replace")

    def stderr(self) -> str:
        return self.err_path.read_bytes().decode("utf-8", "replace")

    def kill9(self) -> None:
        """SIGKILL the tool's own process only (not its group), and reap it."""
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def start_cli(*args: str, cwd: Path, tmp: Path | None = None, logs: Path | None = None) -> Running:
    return Running(list(args), cwd, tmp, logs or (cwd.parent / f"{cwd.name}-logs"))


def run_cli(*args: str, cwd: Path, timeout: float = 120, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), *args], cwd=str(cwd), env=env(tmp), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int, start: str | None = None) -> bool:
    """Running (a zombie is dead: it only waits for its parent to reap it); with `start`, the
    same process that wrote its pid file (not a later one given the same pid)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z" and (start is None or fields[19] == start)


def marked(marker: str) -> list[int]:
    """Live processes whose argv or environment names the marker (the project's folder: the
    tool runs with TMPDIR in the project's temp folder, and every child inherits it)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if (marker.encode() in argv or marker.encode() in environ) and alive(int(entry)):
            out.append(int(entry))
    return sorted(out)


def recorded(root: Path) -> list[int]:
    """Live processes that wrote a pid file into the project's `.pids/`."""
    folder = root / ".pids"
    if not folder.is_dir():
        return []
    out = []
    for path in folder.iterdir():
        try:
            start = path.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if path.name.isdigit() and alive(int(path.name), start or None):
            out.append(int(path.name))
    return sorted(out)


def strays(project_root: Path, wait: float = 5.0) -> list[int]:
    """The project's processes still alive after up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        left = sorted(set(marked(project_root.name)) | set(recorded(project_root)))
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def reap(pids: list[int]) -> None:
    """Kill what a test found left behind, so one failure does not leak into the next test."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def scratch_dirs(tmp: Path) -> list[str]:
    """The tool's scratch folders (`inplace-fix-*`) left in a project's temp directory."""
    return sorted(p.name for p in tmp.glob("inplace-fix-*"))
