"""`--apply` killed with SIGKILL at seeded moments of its run, and what the user finds after.

Promise: the edited file is only ever its original bytes or the verified fix (also while the
verifier re-runs a candidate it then refutes); no process of the script survives the tool;
the next run (`restore`, a dry run, or `--apply`) restores an unfinished journal and says so;
the next `--apply` still fixes the project, and no scratch folder of the dead run is left.
The full sweep (60 kills) is `benchmarks/fault_injection.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fault_project import Project, make_project, run_cli
from fault_trials import CleanRun, clean_run, kill_moments, kill_trial

VARIANTS = ("module", "script", "refuted")  # where the fix lands (see make_project)
KILLS = {"module": 1, "script": 1, "refuted": 1}  # spread over each variant's run; with the
# two-file kill, 4 moments (the benchmark's sweep kills 66 times)
SEED = 20261202


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Project, CleanRun]]:
    """Each variant's project and one uninterrupted --apply (its duration spans the kills)."""
    out = {}
    for where in VARIANTS:
        project = make_project(tmp_path_factory.mktemp("faults") / f"kill-{where}", where)
        out[where] = (project, clean_run(project))
    return out


@pytest.mark.parametrize("where", VARIANTS)
def test_uninterrupted_apply_shows_only_original_or_verified_fix(measured, where: str) -> None:
    project, run = measured[where]
    problems = run.problems()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("where", "index"), [(where, k) for where, count in KILLS.items() for k in range(count)])
def test_kill9_at_a_seeded_moment(measured, where: str, index: int) -> None:
    project, run = measured[where]
    order = VARIANTS.index(where)
    delay, follow_up = kill_moments(SEED + order, KILLS[where], run.seconds, rotate=order)[index]
    trial = kill_trial(project, delay, follow_up)
    problems = trial.problems()
    assert not problems, "\n".join(problems)


def test_kill9_between_the_writes_of_a_two_file_fix(tmp_path: Path) -> None:
    """One round fixes model.py and train.py; SIGKILL lands as soon as the first is replaced,
    so one file is fixed and the other is not: `restore` must put the project back and say so."""
    project = make_project(tmp_path / "kill-two", "two")
    trial = kill_trial(project, 120.0, "restore", at_write=True)
    problems = trial.problems()
    assert not problems, "\n".join(problems)
    assert trial.after_kill != "mixed" or trial.restored, trial


def test_restore_with_nothing_to_do_exits_0_and_touches_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path / "idle", "module")
    before = {p.name: p.read_bytes() for p in project.root.glob("*.py")}
    named = run_cli("restore", str(project.root), cwd=tmp_path, tmp=project.tmp)
    here = run_cli("restore", cwd=project.root, tmp=project.tmp)
    assert (named.returncode, here.returncode) == (0, 0), named.stderr + here.stderr
    assert {p.name: p.read_bytes() for p in project.root.glob("*.py")} == before
    assert "restored" not in (named.stderr + here.stderr).lower()
