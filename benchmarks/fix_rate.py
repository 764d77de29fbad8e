"""Fix rate of `inplace-fix SCRIPT --apply` over the failing corpus, and its cost.

    python benchmarks/fix_rate.py [--jobs 2] [--only NAME ...] [--no-resnet] [--json OUT]

For every script of corpora/failing/ (in a scratch copy):
- fixed and verified: `--apply --json` ends `fixed` (fixable=yes scripts);
- localized: the diagnosis names both lines of the header (modified=, saved=,
  constructed=) for every expected problem;
- harmful edits: a `fixed` script whose gradients differ from the reference, checked
  independently of the verifier (per script, the strategy of each kept fix is listed, and
  the summary counts verified fixes per strategy): the rewritten copy runs under the runtime with
  `--record` (no clone-on-write), the original under `--clone-on-write --record`, and
  this script compares the two recordings with torch itself (must be 0). For a script
  whose header says `losses=change` (a `.data` write made visible: new gradients on
  purpose), or whose reference replayed a forward write outside autograd (a view error:
  its gradients are not the oracle), the check is: the first loss bitwise equal to the original's, and the float64
  finite-difference check at a step 10x the verifier's agreeing on the fixed copy while
  rejecting the original (this reuses the runtime's nudging code: not independent of it);
- a second `--apply` on the fixed copy: it must end `clean` and write nothing (the test
  suite checks this on every other case only, for time);
- wall time of --apply relative to one plain `python SCRIPT` run of the working
  (golden) script, and the same on a ResNet-18-sized script (target <= 3x).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fix_corpus_support import Case, cases  # noqa: E402

LAUNCH = REPO / "codemod" / "runtime" / "launch.py"
CLI = [sys.executable, "-c", "import sys; from inplace_fix.cli import main; sys.argv[0] = 'inplace-fix'; main()"]

RESNET = '''\
# A ResNet-18-sized CPU training step whose blocks apply ReLU(inplace=True) and THEN add
# the shortcut with `+=`: ReLU saved its output, the add overwrites it.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out += identity
        return out


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        widths, layers, cin = (64, 128, 256, 512), [], 64
        for i, w in enumerate(widths):
            layers += [Block(cin, w, 1 if i == 0 else 2), Block(w, w, 1)]
            cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    torch.manual_seed(0)
    model = ResNet18()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(8, 3, 96, 96)
    labels = torch.randint(0, 10, (8,))
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
'''


def _timed(cmd: list[str], cwd: Path, timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    env_path = str(REPO)
    import os

    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(filter(None, [env_path, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)
    return proc, time.perf_counter() - started


def _same_site(site: dict[str, Any] | None, want: tuple[str, int] | None) -> bool:
    if want is None:
        return site is None
    return bool(site) and Path(site["file"]).name == Path(want[0]).name and site["line"] == want[1]


def localized(case: Case, report: dict[str, Any]) -> bool:
    """Every expected problem is named with both lines (and the construction line) right."""
    problems = [p for r in report.get("rounds") or [] for p in r["problems"]] or report.get("problems") or []
    entry = Path(case.entry).name
    for expect in case.expects:
        want_mod = expect.site("modified", entry)
        want_saved = expect.site("saved", entry)
        want_built = expect.site("constructed", entry)
        hit = any(_same_site(p.get("modified_at"), want_mod)
                  and (expect.get("saved") in ("", None) or _same_site(p.get("saved_at"), want_saved))
                  and (want_built is None or _same_site(p.get("construction_at"), want_built))
                  for p in problems)
        if not hit:
            return False
    return True


def compare_recordings(fixed: Path, reference: Path) -> dict[str, Any]:
    """The independent harm check: torch.load both recordings, losses bitwise, grads per leaf."""
    import torch

    a, b = torch.load(fixed, weights_only=False), torch.load(reference, weights_only=False)
    n = min(len(a["loss_bits"]), len(b["loss_bits"]))
    out = {"calls": (len(a["loss_bits"]), len(b["loss_bits"])), "losses_equal": a["loss_bits"][:n] == b["loss_bits"][:n],
           "first_loss_equal": bool(n) and a["loss_bits"][0] == b["loss_bits"][0],
           "same_leaves": True, "max_grad_diff": 0.0}
    for ga_row, gb_row in zip(a["grads"][:n], b["grads"][:n]):
        ga, gb = dict(ga_row), dict(gb_row)
        if sorted(ga) != sorted(gb):
            out["same_leaves"] = False
        for key in set(ga) & set(gb):
            x, y = ga[key], gb[key]
            if x is None or y is None:
                if (x is None) != (y is None):
                    out["same_leaves"] = False
                continue
            out["max_grad_diff"] = max(out["max_grad_diff"], float((x.double() - y.double()).abs().max()))
    out["harmful"] = not (out["losses_equal"] and out["same_leaves"] and out["max_grad_diff"] <= 1e-6
                          and out["calls"][0] >= out["calls"][1])
    return out


def changed_gradients_harm(recordings: dict[str, Any], case: Case, orig: Path, work: Path) -> dict[str, Any]:
    """For a fix that changes gradients on purpose: same first loss, and the loss confirms the new gradients."""
    from inplace_fix.finite_difference import STEP
    from inplace_fix.launcher import finite_difference_check
    from inplace_fix.request import Request

    def check(folder: Path) -> dict[str, Any]:
        return finite_difference_check(Request(script=case.entry, args=tuple(case.args), cwd=str(folder),
                                               root=str(folder)), step=STEP * 10)

    fixed, original = check(work), check(orig)
    out = {**recordings, "fd_fixed": fixed, "fd_original": original}
    out["harmful"] = not (recordings["first_loss_equal"] and fixed.get("ok") is True)
    out["fd_rejects_original"] = original.get("ok") is False
    return out


def run_case(case: Case) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"fixrate-{case.name}-") as tmp:
        base = Path(tmp)
        orig = case.copy_to(base / "orig")
        work = case.copy_to(base / "work")
        golden = case.golden_copy_to(base / "golden") if case.goldens else None
        plain_dir = golden or orig
        _, plain_s = _timed([sys.executable, case.entry, *case.args], plain_dir)
        args = [case.entry, "--apply", "--json", *(["--", *case.args] if case.args else [])]
        proc, apply_s = _timed(CLI + args, work)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            report = {"status": f"no-report (exit {proc.returncode})", "rounds": []}
        row: dict[str, Any] = {"name": case.name, "fixable": case.fixable, "status": report.get("status"),
                               "exit": proc.returncode, "plain_s": round(plain_s, 2), "apply_s": round(apply_s, 2),
                               "ratio": round(apply_s / plain_s, 2) if plain_s else None,
                               "localized": localized(case, report),
                               "golden_match": None, "harm": None, "why": report.get("why"),
                               "strategies": strategies(report), "candidates_run": candidates_run(report)}
        if report.get("status") == "fixed":
            row["golden_match"] = all((work / rel).read_bytes() == g.read_bytes() for rel, g in case.goldens.items())
            before = {p: p.read_bytes() for p in work.rglob("*.py")}
            again, _ = _timed(CLI + args, work)  # the fixed copy again: clean, and nothing written
            try:
                status = json.loads(again.stdout).get("status")
            except ValueError:
                status = None
            row["second_clean"] = (status, again.returncode) == ("clean", 0) and all(
                p.read_bytes() == data for p, data in before.items())
            ref, fixed = base / "ref.pt", base / "fixed.pt"
            _timed([sys.executable, str(LAUNCH), "--report", str(base / "r.json"), "--clone-on-write",
                    "--record", str(ref), "--", case.entry, *case.args], orig)
            _timed([sys.executable, str(LAUNCH), "--report", str(base / "f.json"), "--record", str(fixed),
                    "--", case.entry, *case.args], work)
            try:
                row["harm"] = compare_recordings(fixed, ref)
                replayed = (json.loads((base / "r.json").read_text()).get("values_only_reference")
                            and row["harm"]["calls"][1] > 0)  # the replayed reference reached backward
                if any(e.get("losses") == "change" for e in case.expects) or replayed:
                    # gradients change on purpose, or the reference replayed a forward write
                    # outside autograd (a view error): its gradients are not the oracle
                    row["harm"] = changed_gradients_harm(row["harm"], case, orig, work)
            except Exception as exc:  # a missing recording is reported, not hidden
                row["harm"] = {"harmful": True, "error": f"{type(exc).__name__}: {exc}"}
        return row


def strategies(report: dict[str, Any]) -> list[str]:
    """How each kept fix works (out-of-place, inplace-flag, clone-at-save, ...), in round order."""
    return [(p.get("fix") or {}).get("strategy") or "?" for r in report.get("rounds") or ()
            for p in r.get("problems") or () if p.get("fix")]


def candidates_run(report: dict[str, Any]) -> int:
    """Verification runs spent on candidates (a refuted candidate costs one, a declined one none)."""
    return sum(1 for r in report.get("rounds") or () for p in r.get("problems") or ()
               for c in p.get("candidates") or () if c.get("status") in ("verified", "kept", "rejected"))


def per_strategy(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Verified fixes per strategy over the fixed scripts."""
    counts: dict[str, int] = {}
    for row in rows:
        if row["status"] == "fixed":
            for name in row["strategies"]:
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def resnet_row() -> dict[str, Any]:
    """--apply on the ResNet-sized script, against a plain run of the script as --apply left it."""
    with tempfile.TemporaryDirectory(prefix="fixrate-resnet-") as tmp:
        base = Path(tmp)
        (base / "work").mkdir()
        (base / "work" / "resnet_train.py").write_text(RESNET)
        proc, apply_s = _timed(CLI + ["resnet_train.py", "--apply", "--json"], base / "work")
        report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
        (base / "plain").mkdir()
        shutil.copy2(base / "work" / "resnet_train.py", base / "plain" / "resnet_train.py")
        plain, plain_s = _timed([sys.executable, "resnet_train.py"], base / "plain")
        return {"name": "resnet18_sized (bundled in this benchmark)", "status": report.get("status"),
                "plain_ok": plain.returncode == 0, "plain_s": round(plain_s, 2), "apply_s": round(apply_s, 2),
                "ratio": round(apply_s / plain_s, 2), "summary": report.get("summary"),
                "rounds": len(report.get("rounds") or [])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (timings are cleaner with 1)")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--no-resnet", action="store_true")
    parser.add_argument("--json", dest="json_out", default=None)
    opts = parser.parse_args()
    selected = [c for c in cases() if not opts.only or c.name in opts.only]
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        rows = list(pool.map(run_case, selected))
    fixable = [r for r in rows if r["fixable"]]
    fixed = [r for r in fixable if r["status"] == "fixed" and r["golden_match"]]
    wrongly_fixed = [r for r in rows if not r["fixable"] and r["status"] == "fixed"]
    harmful = [r for r in rows if r["status"] == "fixed" and (r["harm"] or {}).get("harmful")]
    loc = [r for r in rows if r["localized"]]
    ratios = sorted(r["ratio"] for r in rows if r["ratio"])
    print(f"{'script':52} {'status':13} {'loc':4} {'plain s':>7} {'apply s':>7} {'ratio':>5} strategy")
    for r in rows:
        print(f"{r['name'][:52]:52} {str(r['status']):13} {'yes' if r['localized'] else 'NO':4} "
              f"{r['plain_s']:7.2f} {r['apply_s']:7.2f} {r['ratio']:5.2f} {','.join(r['strategies']) or '-'}"
              + (f" ({r['candidates_run']} candidate runs)" if r["candidates_run"] > len(r["strategies"]) else "")
              + ("" if r["status"] != "fixed" or not (r["harm"] or {}).get("harmful") else "  HARMFUL"))
    first_try = [r for r in rows if r["status"] == "fixed" and r["candidates_run"] <= len(r["strategies"])]
    first_ratios = sorted(r["ratio"] for r in first_try if r["ratio"])
    summary = {
        "fixable": len(fixable), "fixed_and_verified": len(fixed),
        "fixed_share": round(len(fixed) / len(fixable), 3) if fixable else None,
        "scripts": len(rows), "localized": len(loc), "localized_share": round(len(loc) / len(rows), 3) if rows else None,
        "harmful_edits": len(harmful), "unfixable_marked_fixed": len(wrongly_fixed),
        "second_apply_not_clean": sorted(r["name"] for r in rows if r.get("second_clean") is False),
        "median_ratio": ratios[len(ratios) // 2] if ratios else None, "max_ratio": ratios[-1] if ratios else None,
        "median_ratio_first_candidate_verified": first_ratios[len(first_ratios) // 2] if first_ratios else None,
        "fixed_per_strategy": per_strategy(rows),
        "scripts_needing_a_later_candidate": sorted(r["name"] for r in rows
                                                    if r["status"] == "fixed" and r not in first_try),
    }
    if not opts.no_resnet:
        summary["resnet"] = resnet_row()
    print(json.dumps(summary, indent=2))
    if opts.json_out:
        Path(opts.json_out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=2, default=str))
    return 0 if not harmful and not wrongly_fixed and not summary["second_apply_not_clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
