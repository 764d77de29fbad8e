"""Two `--apply` runs on one project at once: one project root, one writer.

Promise: the end state is the original or the verified fix; two runs never both report
success over an unverified file; a run that finds another holding the project past 5 s
exits 2 saying "another inplace-fix" and writes nothing. The 8-try sweep is
`benchmarks/fault_injection.py`.
"""

from __future__ import annotations

import random
from pathlib import Path

from fault_project import make_project
from fault_trials import race_trial

SEED = 20261203
HOLD = 3.0  # the script sleeps this long before its error: with the verifying re-run, the
# first --apply holds the project for well over 5 s


def test_second_apply_gives_up_while_the_first_holds_the_project(tmp_path: Path) -> None:
    project = make_project(tmp_path / "race-hold", "module", sleep=HOLD)
    trial = race_trial(project, offset=0.5, hold=True)
    problems = trial.problems()
    assert not problems, "\n".join(problems)


def test_two_quick_applies_end_fixed_or_untouched(tmp_path: Path) -> None:
    project = make_project(tmp_path / "race-quick", "script")
    trial = race_trial(project, offset=random.Random(SEED).uniform(0.0, 1.0), hold=False)
    problems = trial.problems()
    assert not problems, "\n".join(problems)
