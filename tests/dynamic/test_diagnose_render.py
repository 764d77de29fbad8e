"""The human diagnosis and the JSON report, from hand-written runtime reports (no subprocess)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from inplace_fix.commands.fix import _strip_runner_frames
from inplace_fix.console import Console
from inplace_fix.diagnosis import from_report
from inplace_fix.exit_codes import exit_code_for as exit_code
from inplace_fix.paths import display_path, find_root
from inplace_fix.report import dumps
from inplace_fix.request import Request
from inplace_fix.render.diagnosis import render_diagnosis, why_sentence

NET = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            h = torch.sigmoid(self.fc(x))
            return self.relu(h)
    """)


def _report(folder: Path) -> dict:
    net = str(folder / "net.py")
    return {
        "tool": "inplace-fix", "version": "0.1.0", "script": net, "status": "found", "backward_calls": 0,
        "script_error": None,
        "problems": [{
            "kind": "saved-tensor-modified",
            "error": "one of the variables needed for gradient computation has been modified by an "
                     "inplace operation: [torch.FloatTensor [2, 4]] is at version 1; expected version 0 instead",
            "tensor": {"shape": [2, 4], "dtype": "float32", "device": "cpu", "name": "h",
                       "version_saved": 0, "version_now": 1},
            "saved_at": {"file": net, "line": 12, "col": 12, "code": "h = torch.sigmoid(self.fc(x))",
                         "op": "sigmoid"},
            "modified_at": {"file": net, "line": 13, "col": 15, "code": "return self.relu(h)", "op": "relu_"},
            "construction_at": {"file": net, "line": 9, "col": 20, "code": "self.relu = nn.ReLU(inplace=True)",
                                "op": None},
            "library_frames": [{"file": "/usr/lib/python3/site-packages/torch/nn/functional.py", "line": 1500,
                                "col": 8, "code": "result = torch.relu_(input)", "op": "relu_"}],
            "rule": "IPF004", "module": "ReLU", "needed_by": "SigmoidBackward0",
            "grad_of": ["fc.weight", "fc.bias"], "runtime_extra": 7,
        }],
    }


@pytest.fixture()
def diagnosis(tmp_path: Path):
    (tmp_path / "net.py").write_text(NET)
    request = Request(script="net.py", root=str(tmp_path), cwd=str(tmp_path))
    return from_report(_report(tmp_path), request)


def test_human_frames_carets_and_why(diagnosis) -> None:
    text = render_diagnosis(diagnosis, Console(color=False))
    assert "net.py: 1 in-place problem found" in text
    assert "`h` (float32 [2, 4] on cpu)" in text
    lines = text.splitlines()
    # the saved line, its caret under `torch.sigmoid(self.fc(x))`, and the label
    i = next(k for k, l in enumerate(lines) if l.endswith("h = torch.sigmoid(self.fc(x))"))
    assert "--> net.py:12:13" in lines[i - 2]
    caret = lines[i + 1]
    src = lines[i]
    assert caret.index("^") == src.index("torch.sigmoid")
    assert caret.count("^") == len("torch.sigmoid(self.fc(x))")
    assert caret.endswith("saved here by sigmoid")
    j = next(k for k, l in enumerate(lines) if l.endswith("return self.relu(h)"))
    assert "--> net.py:13:16" in lines[j - 2]
    assert lines[j + 1].index("^") == lines[j].index("self.relu(h)")
    assert lines[j + 1].endswith("modified here by relu_ (version 0 -> 1)")
    assert "the in-place ReLU was built here" in text and "--> net.py:9:21" in text
    assert "functional.py:1500" in text  # the library frame beneath the project frame
    assert "needed by SigmoidBackward0 to compute the gradient of fc.weight, fc.bias" in text
    assert "why: sigmoid keeps this tensor" in text
    assert "\x1b[" not in text


def test_color_only_when_asked(diagnosis) -> None:
    assert "\x1b[" in render_diagnosis(diagnosis, Console(color=True))


def test_json_report_contract(diagnosis) -> None:
    report = json.loads(dumps(diagnosis.to_json()))
    assert list(report)[:6] == ["tool", "version", "script", "status", "problems", "verification"]
    assert report["script"] == "net.py" and report["status"] == "found" and report["verification"] is None
    (p,) = report["problems"]
    assert list(p)[:7] == ["kind", "error", "tensor", "saved_at", "modified_at", "fix", "why_unfixable"]
    assert p["saved_at"] == {"file": "net.py", "line": 12, "col": 12, "code": "h = torch.sigmoid(self.fc(x))",
                             "op": "sigmoid"}
    assert p["modified_at"]["file"] == "net.py" and p["construction_at"]["file"] == "net.py"
    assert p["library_frames"][0]["file"].startswith("/usr/lib/")  # outside the cwd: absolute
    assert p["runtime_extra"] == 7  # the runtime's extensions pass through


@pytest.mark.parametrize("kind, words", [
    ("saved-tensor-modified", "keeps this tensor"),
    ("leaf-modified", "leaf that requires grad"),
    ("view-modified", "view"),
    ("silent-data-mutation", "`.data`"),
])
def test_why_per_kind(diagnosis, kind: str, words: str) -> None:
    from dataclasses import replace

    assert words in why_sentence(replace(diagnosis.problems[0], kind=kind))


def test_clean_and_failures(tmp_path: Path) -> None:
    request = Request(script="s.py", cwd=str(tmp_path), steps=3)
    clean = from_report({"status": "clean", "problems": [], "backward_calls": 3}, request)
    assert render_diagnosis(clean, Console(color=False)).startswith("s.py: no in-place problem found")
    none = from_report({"status": "clean", "problems": [], "backward_calls": 0}, request)
    assert "no backward call" in render_diagnosis(none, Console(color=False))
    failed = from_report({"status": "script-error", "problems": [], "script_error":
                          {"type": "ValueError", "message": "boom", "traceback": "Traceback..."}}, request)
    assert failed.status == "script-error"
    assert "failed for another reason (ValueError: boom)" in render_diagnosis(failed, Console(color=False))


def test_exit_codes() -> None:
    assert [exit_code(s) for s in ("clean", "fixed", "found", "unfixable", "not-verified", "script-error",
                                   "timeout")] == [0, 0, 1, 1, 1, 3, 3]


def test_runner_frames_dropped_from_the_script_traceback() -> None:
    text = ('Traceback (most recent call last):\n  File "<frozen runpy>", line 291, in run_path\n'
            '  File "/usr/lib/python3.11/runpy.py", line 88, in _run_code\n    exec(code, run_globals)\n'
            '  File "boom.py", line 4, in f\n    raise ValueError("x")\nValueError: x\n')
    assert _strip_runner_frames(text) == ('Traceback (most recent call last):\n  File "boom.py", line 4, in f\n'
                                          '    raise ValueError("x")\nValueError: x\n')


def test_paths_and_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "src").mkdir()
    assert find_root(tmp_path / "repo" / "src") == str((tmp_path / "repo").resolve())
    assert find_root(tmp_path) == str(tmp_path.resolve()) or (tmp_path / ".git").exists()
    assert display_path(tmp_path / "repo" / "src" / "a.py", str(tmp_path)) == "repo/src/a.py"
    assert display_path("/elsewhere/b.py", str(tmp_path)) == "/elsewhere/b.py"
