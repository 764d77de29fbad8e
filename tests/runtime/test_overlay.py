"""The runtime serves --apply's edited sources from memory: the script, its imports, every reader.

A verification is only worth something if the re-run executed the edited code; and
the user's files must not change while it runs. Each test gives the runtime an
overlay whose text differs from the disk's and checks which one the script saw.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from runtime_helpers import launch, write

DISK = "VALUE = 'disk'\n"
EDITED = "VALUE = 'edited'\n"


def _overlay(folder: Path, files: dict[Path, str]) -> Path:
    path = folder / "overlay.json"
    path.write_text(json.dumps({"files": {str(p.resolve()): {"data": base64.b64encode(t.encode()).decode(),
                                                              "text": t} for p, t in files.items()}}))
    return path


def _project(tmp_path: Path, main: str) -> tuple[Path, Path]:
    mod = write(tmp_path, "settings.py", DISK)
    script = write(tmp_path, "main.py", main)
    return script, mod


def test_imports_the_script_and_every_reader_see_the_edited_text(tmp_path: Path) -> None:
    script, mod = _project(tmp_path, """
        import importlib.util, inspect, linecache, pathlib, sys
        import settings
        spec = importlib.util.spec_from_file_location("again", settings.__file__)
        again = importlib.util.module_from_spec(spec); spec.loader.exec_module(again)
        namespace = {}
        exec(open(settings.__file__).read(), namespace)
        seen = {"import": settings.VALUE, "spec": again.VALUE, "exec_open": namespace["VALUE"],
                "read_text": pathlib.Path(settings.__file__).read_text().strip(),
                "getsource": inspect.getsource(settings).strip(),
                "linecache": linecache.getline(settings.__file__, 1).strip(),
                "main": MARK}
        pathlib.Path("seen.json").write_text(__import__("json").dumps(seen))
        """)
    # a stale .pyc of the disk's text must not be used for the edited module
    subprocess.run([sys.executable, "-c", "import py_compile; py_compile.compile('settings.py')"],
                   cwd=tmp_path, check=True)
    assert list((tmp_path / "__pycache__").glob("settings.*.pyc"))
    main_text = script.read_text()
    overlay = _overlay(tmp_path, {mod: EDITED, script: "MARK = 'edited main'\n" + main_text})
    data, proc = launch(script, "--overlay", str(overlay))
    assert proc.returncode == 0 and data["script_error"] is None, proc.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"import": "edited", "spec": "edited", "exec_open": "edited", "read_text": EDITED.strip(),
                    "getsource": EDITED.strip(), "linecache": EDITED.strip(), "main": "edited main"}
    assert sorted(data["overlay"]["served"]) == sorted(str(p.resolve()) for p in (mod, script))
    assert mod.read_text() == DISK and script.read_text() == main_text  # nothing written
    pyc = next((tmp_path / "__pycache__").glob("settings.*.pyc")).read_bytes()
    assert b"edited" not in pyc  # the edited text never reaches the user's bytecode cache


def test_a_traceback_quotes_the_edited_line(tmp_path: Path) -> None:
    script, mod = _project(tmp_path, "import settings\nsettings.boom()\n")
    overlay = _overlay(tmp_path, {mod: "def boom():\n    raise ValueError('from the edited text')\n"})
    data, _ = launch(script, "--overlay", str(overlay))
    assert data["script_error"]["type"] == "ValueError"
    assert "raise ValueError('from the edited text')" in data["script_error"]["traceback"]


def test_an_edited_file_nobody_read_is_not_reported_served(tmp_path: Path) -> None:
    script, mod = _project(tmp_path, "print('settings are never imported')\n")
    overlay = _overlay(tmp_path, {mod: EDITED})
    data, proc = launch(script, "--overlay", str(overlay))
    assert proc.returncode == 0 and data["overlay"]["served"] == []


def test_a_script_that_changes_directory_is_still_located(tmp_path: Path) -> None:
    """Given by a relative path, then os.chdir: the frames keep pointing at the script."""
    script = write(tmp_path, "train.py", """
        import os, torch
        os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        x = torch.ones(3, requires_grad=True)
        y = x.sigmoid()
        y.mul_(2)
        y.sum().backward()
        """)
    data, _ = launch(script, args=(), cwd=tmp_path)
    assert data["problems"], data
    site = data["problems"][0]["modified_at"]
    assert Path(site["file"]) == script.resolve() and site["line"] == 5
