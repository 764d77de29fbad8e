"""Regressions found while reviewing the CLI as a user (each test failed before its fix)."""

from __future__ import annotations

import codecs
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from inplace_fix.cli import main

ENTRY = "import sys; from inplace_fix.cli import main; sys.exit(main(prog_name='inplace-fix'))"

BODY = "import torch\ndef f(x):\n    y = torch.sigmoid(x)\n    y.add_(1)\n    return y\n"


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def _dry_run(root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(root)
    return CliRunner().invoke(main, ["migrate", "."], catch_exceptions=False)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        # line 1 is context: the patch must carry the BOM, or `git apply` rejects the hunk
        ("bom.py", codecs.BOM_UTF8 + BODY.encode(), b"\n \xef\xbb\xbfimport torch\n"),
        # a PEP 263 latin-1 file: the context lines must be the file's latin-1 bytes, not UTF-8
        ("latin.py", ("# -*- coding: latin-1 -*-\n" + BODY.replace("def", "# caf\xe9\ndef")).encode("latin-1"), b"\n # caf\xe9\n"),
    ],
)
def test_dry_run_diff_holds_the_files_own_bytes_so_git_apply_takes_it(tmp_path, monkeypatch, name, data,
                                                                      expected) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = _dry_run(tmp_path, monkeypatch)
    assert result.exit_code == 1, result.stderr
    assert expected in result.stdout_bytes
    assert path.read_bytes() == data  # a dry run
    if shutil.which("git"):
        patch = tmp_path.parent / f"{tmp_path.name}.diff"
        patch.write_bytes(result.stdout_bytes)
        check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=tmp_path, capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stderr


SLOW_FAILING = """\
import pathlib, time
import torch
import torch.nn as nn
# the verification run reads its own edited text from memory: say when it is on
pathlib.Path("verifying").write_text(str("inplace=" + "True" not in open(__file__).read()))
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.ReLU(inplace=True))
for step in range(3):
    loss = net(torch.randn(2, 4)).sum()
    loss.backward()
    time.sleep(3)
"""


def _wait_for_verification(proc: subprocess.Popen, folder) -> None:
    """Until the re-run of the edited script has started (its file on disk still the original)."""
    deadline = time.monotonic() + 120
    marker = folder / "verifying"
    while not (marker.exists() and marker.read_text() == "True"):
        assert proc.poll() is None and time.monotonic() < deadline, "the verification run never started"
        assert (folder / "train.py").read_text() == SLOW_FAILING, "the fix reached the disk unverified"
        time.sleep(0.05)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None or os.name != "posix", reason="needs torch, POSIX")
def test_sigterm_during_apply_leaves_the_file_and_stops_the_script(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SLOW_FAILING)
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "train.py", "--apply"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_verification(proc, tmp_path)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # a cancelled CI job, `timeout`, `kill`
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert script.read_text() == SLOW_FAILING  # never written
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []  # the verification run was stopped, not orphaned


def test_ctrl_c_during_apply_exits_130_and_leaves_the_file(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SLOW_FAILING)
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "train.py", "--apply"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_verification(proc, tmp_path)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # an interrupt, not "a problem was found" (1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in proc.stderr.read()
    assert script.read_text() == SLOW_FAILING


def test_a_path_the_terminal_encoding_cannot_show_is_escaped_not_a_traceback(tmp_path) -> None:
    (tmp_path / "caf\xe9.py").write_text(BODY)
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    env.pop("FORCE_COLOR", None)
    result = subprocess.run([sys.executable, "-c", ENTRY, "scan", "."], cwd=tmp_path, env=env,
                            capture_output=True, text=True, encoding="ascii", errors="replace")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("caf\\xe9.py:4:5: IPF002 ")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_fifo_named_py_in_a_scanned_folder_is_skipped_not_read_forever(tmp_path) -> None:
    (tmp_path / "m.py").write_text(BODY)
    os.mkfifo(tmp_path / "pipe.py")
    result = subprocess.run([sys.executable, "-c", ENTRY, "scan", "."], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30)  # before the fix: blocked forever opening the FIFO
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("m.py:4:5: IPF002 ")
    assert "pipe.py" not in result.stdout + result.stderr


def test_a_file_also_reached_through_a_symlink_is_reported_under_its_real_name(tmp_path, monkeypatch) -> None:
    (tmp_path / "z_real.py").write_text(BODY)
    (tmp_path / "a_link.py").symlink_to("z_real.py")  # sorts first: it used to win the de-duplication
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["scan", "."], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stdout == "z_real.py:4:5: IPF002 in-place Tensor method; rebind with its out-of-place twin " \
                            "(`x = x.add(y)`)\n"


def test_timeout_nan_is_a_usage_error_not_no_timeout(tmp_path, monkeypatch) -> None:
    (tmp_path / "train.py").write_text("print('ran')\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train.py", "--timeout", "nan"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "--timeout" in result.stderr and "ran" not in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_json_mode_names_the_failure_and_promises_no_traceback_that_is_not_there(tmp_path) -> None:
    (tmp_path / "train.py").write_text("import sys\nprint('hi')\nsys.exit(4)\n")
    result = subprocess.run([sys.executable, "-c", ENTRY, "train.py", "--json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert json.loads(result.stdout)["status"] == "script-error"
    last = result.stderr.strip().splitlines()[-1]
    assert last == "inplace-fix: train.py: the script failed for another reason (SystemExit: 4); its output is above."


FILES = 800  # enough that the writes are under way when the signal lands; each written one is put back


@pytest.mark.skipif(os.name != "posix" or not shutil.which("pgrep"), reason="needs POSIX signals and pgrep")
def test_sigterm_during_migrate_apply_stops_the_workers(tmp_path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    for number in range(FILES):
        (folder / f"f{number}.py").write_text(BODY)
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "migrate", "-j", "2", "--apply", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any("y = y.add(1)" in p.read_text() for p in folder.glob("*.py")):
            assert proc.poll() is None and time.monotonic() < deadline, "no file was rewritten"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.0)
    workers = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
    written = sum("y = y.add(1)" in p.read_text() for p in folder.glob("*.py"))
    time.sleep(1.0)
    assert workers == []  # before the fix: orphaned workers went on rewriting after the kill
    assert sum("y = y.add(1)" in p.read_text() for p in folder.glob("*.py")) == written < FILES
