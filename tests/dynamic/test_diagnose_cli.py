"""`inplace-fix SCRIPT` and `inplace-fix run -m` through the real CLI: exit codes, streams, args, timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from diagnose_helpers import run_cli


FAILING = textwrap.dedent("""\
    import torch

    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    h = torch.sigmoid(w * 2)
    h.add_(1)
    print("script says hello")
    h.sum().backward()
    """)

CLEAN = textwrap.dedent("""\
    import torch

    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    for _ in range(5):
        y = w * 2
        y += 1
        print("step")
        y.sum().backward()
    """)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("inplace-fix: error: ")
    return lines[0]


# ---------------------------------------------------------------- input errors: exit 2, one line


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(run_cli("nope.py", cwd=tmp_path))


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    assert "is a directory" in one_line_error(run_cli("pkg", cwd=tmp_path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")  # reading it would block until a writer comes
    assert "not a regular file" in one_line_error(run_cli("pipe.py", cwd=tmp_path))


def test_syntax_error_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path, "bad.py", f"open({str(marker)!r}, 'w').close()\nx = (\n")
    line = one_line_error(run_cli("bad.py", cwd=tmp_path))
    assert "bad.py:2" in line and "syntax error" in line
    assert not marker.exists()


def test_unknown_option(tmp_path: Path) -> None:
    write(tmp_path, "ok.py", "print(1)\n")
    assert "--bogus" in one_line_error(run_cli("ok.py", "--bogus", cwd=tmp_path))


@pytest.mark.parametrize("python", ["/nonexistent/python", "no-such-python-xyz"])
def test_bad_python(tmp_path: Path, python: str) -> None:
    write(tmp_path, "ok.py", "print(1)\n")
    assert "--python" in one_line_error(run_cli("ok.py", "--python", python, cwd=tmp_path))


def test_python_without_torch(tmp_path: Path) -> None:
    fake = write(tmp_path, "fakepy", f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")
    fake.chmod(0o755)
    write(tmp_path, "ok.py", "print(1)\n")
    assert "no torch" in one_line_error(run_cli("ok.py", "--python", str(fake), cwd=tmp_path))


def test_unknown_module(tmp_path: Path) -> None:
    assert "no module named" in one_line_error(run_cli("run", "-m", "no_such_pkg.mod", cwd=tmp_path))


def test_bad_steps(tmp_path: Path) -> None:
    write(tmp_path, "ok.py", "print(1)\n")
    assert "--steps" in one_line_error(run_cli("ok.py", "--steps", "0", cwd=tmp_path))


def test_help_explains() -> None:
    proc = run_cli("fix", "--help")
    assert proc.returncode == 0
    for text in ("Examples:", "Exit codes:", "--json", "--steps", "--timeout", "--python", "--root",
                 "--anomaly", "--apply", "--max-rounds", "--unsafe-fixes", "-- --epochs 1"):
        assert text in proc.stdout, text
    proc = run_cli("run", "--help")
    assert proc.returncode == 0 and "-m MODULE" in proc.stdout and "Exit codes:" in proc.stdout


# ---------------------------------------------------------------- runs


def test_clean_exit_0(tmp_path: Path) -> None:
    write(tmp_path, "clean.py", CLEAN)
    proc = run_cli("clean.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no in-place problem found" in proc.stdout
    assert proc.stdout.count("step") >= 3  # the script's own output passes through


def test_found_exit_1_human_output(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", FAILING)
    proc = run_cli("bug.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "saved-tensor-modified" in out
    assert "bug.py:5:" in out and "bug.py:6:" in out  # both lines
    assert "h = torch.sigmoid(w * 2)" in out and "h.add_(1)" in out
    assert "^" in out and "saved here by" in out and "modified here by" in out
    assert "Traceback" not in proc.stderr


def test_json_purity_and_report(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", FAILING)
    proc = run_cli("bug.py", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)  # nothing but the report on stdout
    assert "script says hello" in proc.stderr  # the script's stdout went to stderr
    assert report["tool"] == "inplace-fix" and report["script"] == "bug.py"
    assert report["status"] == "found" and report["verification"] is None
    (problem,) = report["problems"]
    for key in ("kind", "error", "tensor", "saved_at", "modified_at", "fix", "why_unfixable"):
        assert key in problem
    assert problem["saved_at"]["file"] == "bug.py" and problem["saved_at"]["line"] == 5
    assert problem["modified_at"]["file"] == "bug.py" and problem["modified_at"]["line"] == 6
    assert problem["tensor"]["shape"] == [3]


def test_script_args_argv_and_path0(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    write(sub, "probe.py", textwrap.dedent("""\
        import json, os, sys
        print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__, "cwd": os.getcwd()}),
              file=sys.stderr)
        """))
    plain = subprocess.run([sys.executable, "sub/probe.py", "--epochs", "1", "x"], cwd=tmp_path,
                           capture_output=True, text=True)
    expected = json.loads(plain.stderr.strip().splitlines()[-1])
    proc = run_cli("sub/probe.py", "--json", "--", "--epochs", "1", "x", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads([l for l in proc.stderr.splitlines() if l.startswith("{")][-1])
    assert got == expected
    assert json.loads(proc.stdout)["status"] == "clean"


def test_run_module(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/train.py", textwrap.dedent("""\
        import json, sys
        import torch
        print(json.dumps({"argv": sys.argv[1:], "path0": sys.path[0], "name": __name__}), file=sys.stderr)
        w = torch.ones(2, requires_grad=True)
        h = torch.exp(w)
        h.mul_(2)
        h.sum().backward()
        """))
    proc = run_cli("run", "-m", "pkg.train", "--json", "--", "--flag", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    probe = json.loads([l for l in proc.stderr.splitlines() if l.startswith("{")][-1])
    assert probe == {"argv": ["--flag"], "path0": str(tmp_path), "name": "__main__"}
    report = json.loads(proc.stdout)
    (problem,) = report["problems"]
    assert problem["modified_at"]["file"] == "pkg/train.py" and problem["modified_at"]["line"] == 6
    assert problem["saved_at"]["line"] == 5


def test_script_error_exit_3_traceback_untouched(tmp_path: Path) -> None:
    write(tmp_path, "boom.py", "import torch\n\ndef f():\n    raise ValueError('boom 42')\n\nf()\n")
    proc = run_cli("boom.py", cwd=tmp_path)
    assert proc.returncode == 3
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ValueError: boom 42" in proc.stderr
    assert 'boom.py", line 4, in f' in proc.stderr
    assert "launch.py" not in proc.stderr  # the runtime's own frames are not shown
    proc = run_cli("boom.py", "--json", cwd=tmp_path)
    assert proc.returncode == 3 and json.loads(proc.stdout)["status"] == "script-error"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return "\nState:\tZ" not in handle.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_timeout_kills_the_process_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    write(tmp_path, "slow.py", textwrap.dedent(f"""\
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(120)
        """))
    started = time.monotonic()
    # generous: the runtime imports torch before the script starts, slow on a loaded machine
    proc = run_cli("slow.py", "--timeout", "12", "--json", cwd=tmp_path, timeout=120)
    assert time.monotonic() - started < 60
    assert proc.returncode == 3
    assert "timed out" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["status"] == "timeout"
    assert pidfile.exists(), "the script never started its child within the timeout"
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the script's child outlived the timeout"


def test_color_only_on_a_terminal(tmp_path: Path) -> None:
    write(tmp_path, "bug.py", FAILING)
    proc = run_cli("bug.py", cwd=tmp_path, env={"NO_COLOR": "", "FORCE_COLOR": ""})
    assert "\x1b[" not in proc.stdout


def test_steps_limit_backward_calls(tmp_path: Path) -> None:
    write(tmp_path, "clean.py", CLEAN)
    proc = run_cli("clean.py", "--json", "--steps", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["status"], report["backward_calls"], report["problems"]) == ("clean", 2, [])
    assert proc.stderr.count("step") == 2  # stopped cleanly after two backward calls
