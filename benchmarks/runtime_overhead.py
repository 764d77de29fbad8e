"""Overhead of the diagnose run (codemod/runtime/launch.py, as the tool runs it).

For (a) a ResNet-18-sized CPU training step and (b) a script of many tiny ops, in one
run, this times (whole processes, wall clock, best of --repeat, interleaved):
  plain      python SCRIPT
  anomaly    python SCRIPT with torch.autograd.set_detect_anomaly(True) at its top
  diagnose   python launch.py --report R.json -- SCRIPT
  reference  python launch.py --report R.json --clone-on-write --record REC.pt -- SCRIPT
and, from inside each process, the time of the training steps alone (the script
prints it), so that interpreter start-up and `import torch` do not hide the cost.
Each script runs 3 backward calls (the runtime's default --steps), so every variant
does the same work.

    python benchmarks/runtime_overhead.py [--repeat 3] [--size 112] [--batch 8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = os.path.join(REPO, "codemod", "runtime", "launch.py")

PRELUDE = """
import os, time, torch
if os.environ.get("IPF_BENCH_ANOMALY"):
    torch.autograd.set_detect_anomaly(True)
torch.set_num_threads(int(os.environ.get("IPF_BENCH_THREADS", "1")))
"""

RESNET = PRELUDE + """
from torch import nn
import torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += idt
        return self.relu(out)

class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

torch.manual_seed(0)
model = ResNet18()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(BATCH, 3, SIZE, SIZE)
y = torch.randint(0, 1000, (BATCH,))
t0 = time.perf_counter()
for step in range(3):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    if step == 2:
        print("STEPS", time.perf_counter() - t0, flush=True)   # the runtime stops at backward 3
    loss.backward()
    opt.step()
"""

TINY = PRELUDE + """
torch.manual_seed(0)
w = torch.randn(16, requires_grad=True)
t0 = time.perf_counter()
for step in range(3):
    h = w
    for i in range(N_OPS):
        h = torch.sin(h) * 1.01 + h.tanh()
    loss = h.sum()
    if step == 2:
        print("STEPS", time.perf_counter() - t0, flush=True)
    loss.backward()
"""


def run(cmd: list, env_extra: dict) -> tuple[float, float]:
    env = dict(os.environ, **env_extra)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    steps = float("nan")
    for line in p.stdout.splitlines():
        if line.startswith("STEPS "):
            steps = float(line.split()[1])
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return wall, steps


def bench(name: str, script: str, repeat: int, tmp: str) -> dict:
    rep = os.path.join(tmp, "r.json")
    rec = os.path.join(tmp, "rec.pt")
    variants = {
        "plain": ([sys.executable, script], {}),
        "anomaly": ([sys.executable, script], {"IPF_BENCH_ANOMALY": "1"}),
        "diagnose": ([sys.executable, LAUNCH, "--report", rep, "--", script], {}),
        "reference": ([sys.executable, LAUNCH, "--report", rep, "--clone-on-write", "--record", rec,
                       "--", script], {}),
    }
    best: dict = {k: (float("inf"), float("inf")) for k in variants}
    for _ in range(repeat):
        for k, (cmd, env) in variants.items():
            wall, steps = run(cmd, env)
            best[k] = (min(best[k][0], wall), min(best[k][1], steps))
    with open(rep) as fh:
        status = json.load(fh)["status"]
    out = {"name": name, "status_of_diagnose": status}
    for k, (wall, steps) in best.items():
        out[k] = {"wall_s": round(wall, 3), "steps_s": round(steps, 3)}
    for k in ("anomaly", "diagnose", "reference"):
        out[f"{k}/plain wall"] = round(best[k][0] / best["plain"][0], 3)
        out[f"{k}/plain steps"] = round(best[k][1] / best["plain"][1], 3)
    out["diagnose/anomaly wall"] = round(best["diagnose"][0] / best["anomaly"][0], 3)
    out["diagnose/anomaly steps"] = round(best["diagnose"][1] / best["anomaly"][1], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rn = os.path.join(tmp, "resnet_step.py")
        with open(rn, "w") as fh:
            fh.write(textwrap.dedent(RESNET).replace("BATCH", str(a.batch)).replace("SIZE", str(a.size)))
        tn = os.path.join(tmp, "tiny_ops.py")
        with open(tn, "w") as fh:
            fh.write(textwrap.dedent(TINY).replace("N_OPS", str(a.ops)))
        results.append(bench(f"resnet18 step (batch {a.batch}, {a.size}x{a.size}, 1 thread)", rn, a.repeat, tmp))
        results.append(bench(f"tiny ops ({a.ops} x 4 ops per forward)", tn, a.repeat, tmp))
    if a.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"== {r['name']}  (diagnose status: {r['status_of_diagnose']})")
        for k in ("plain", "anomaly", "diagnose", "reference"):
            print(f"  {k:10s} wall {r[k]['wall_s']:7.3f} s   steps {r[k]['steps_s']:7.3f} s")
        for k in ("anomaly", "diagnose", "reference"):
            print(f"  {k}/plain: wall {r[k + '/plain wall']:.3f}x  steps {r[k + '/plain steps']:.3f}x")
        print(f"  diagnose/anomaly: wall {r['diagnose/anomaly wall']:.3f}x  steps {r['diagnose/anomaly steps']:.3f}x")


if __name__ == "__main__":
    main()
