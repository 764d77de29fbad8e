"""Scale: `scan` and `migrate` time and peak memory against the size of one file.

    python benchmarks/scale.py                 # 128 KB, 512 KB, 1 MB, 5 MB
    python benchmarks/scale.py --quick         # 32 KB and 128 KB only (a few seconds)
    python benchmarks/scale.py --sizes 1024 --json out.json

Generates one large, realistic model file per size (`generate`): many nn.Module
classes whose forward methods use in-place methods, `+=`, `.data`, indexed writes,
`relu(inplace=True)` and loops, between plain helper functions, config tables and
`torch.no_grad()` blocks. Each size runs `inplace-fix scan` and `inplace-fix migrate`
(dry run, with --unsafe-fixes, and --apply) as a subprocess of the real CLI with one
process and no time budget, measuring wall time, CPU time and the child's peak RSS,
and a bare parse of the same text with the stdlib `ast` (the yardstick: each command's CPU time is
also given as a multiple of it, `x ast`) and with libcst.

Linear time means a flat CPU-seconds-per-MB column. Exits 1 when a target is missed
(1 MB under 2 s, 5 MB under 10 s of CPU, peak memory under 300 MB) unless --quick.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HEADER = (
    "import math\n"
    "import torch\n"
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "\n"
    "\n"
)
SIZES_KB = (128, 512, 1024, 5120)
QUICK_SIZES_KB = (32, 128)
PARSE_MAX_KB = 1024  # a bare libcst parse of the whole file needs ~0.7 GB per MB: not above this
TARGETS = {1024: 2.0, 5120: 10.0}  # seconds, for scan and for migrate
MEMORY_MB = 300.0

_MODULE = '''\
class Block{i}(nn.Module):
    """Residual block {i}: conv, norm, an in-place activation and a learned scale."""

    def __init__(self, dim={dim}):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.ReLU(inplace=True)
        self.scale = nn.Parameter(torch.ones(dim))
        self.register_buffer("steps", torch.zeros(1))

    def reset_parameters(self):
        nn.init.zeros_(self.fc.bias)
        self.scale.data.fill_(1.0)

    def forward(self, x):
        y = self.fc(x)
        y += x
        y = F.relu(y, inplace=True)
        y.mul_(self.scale)
        for k in range({loops}):
            y.add_(x * k)
            y[:, 0] = 0
        h = self.norm(y)
        h.data.clamp_(min=-{clip}, max={clip})
        with torch.no_grad():
            self.steps += 1
        return self.act(h)
'''

_ATTENTION = '''\
class Attention{i}(nn.Module):
    def __init__(self, dim={dim}, heads={heads}):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(0.1, inplace=True)

    def forward(self, x, mask=None):
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        attn = torch.matmul(q, k.transpose(-2, -1))
        attn *= 1.0 / math.sqrt(c // self.heads)
        if mask is not None:
            attn.masked_fill_(mask, float("-inf"))
        attn = attn.softmax(dim=-1)
        out = torch.matmul(attn, v)
        out = self.proj(out)
        torch.sigmoid_(out)
        return self.drop(out)
'''

_HELPER = '''\
def schedule_{i}(step, warmup={warmup}, total={total}):
    """Plain code: a learning-rate schedule with no tensors at all."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    value = 0.5 * (1.0 + math.cos(math.pi * progress))
    history = []
    for epoch in range({loops}):
        value += 0.001 * epoch
        history.append(value)
    return max(0.0, value)
'''

_TABLE = '''\
CONFIG_{i} = {{
    "name": "model_{i}",
    "depth": {loops},
    "width": {dim},
    "heads": {heads},
    "dropout": 0.1,
    "stages": [{dim}, {dim2}, {dim3}],
}}
'''

_UPDATE = '''\
@torch.no_grad()
def ema_update_{i}(model, shadow, decay=0.99):
    for p, s in zip(model.parameters(), shadow.parameters()):
        s.mul_(decay).add_(p, alpha=1 - decay)


def train_step_{i}(model, batch, optimizer):
    loss = model(batch).sum()
    loss.backward()
    optimizer.step()
    total = 0
    for name, p in model.named_parameters():
        total += p.numel()
    return loss.item(), total
'''

_TEMPLATES = (_MODULE, _ATTENTION, _HELPER, _TABLE, _MODULE, _UPDATE)


def pieces(count: int, seed: int = 0) -> list[str]:
    """`count` independent top-level pieces (classes, functions, tables), each ending in two blank lines."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        template = _TEMPLATES[i % len(_TEMPLATES)]
        dim = rng.choice((64, 128, 256, 384))
        out.append(template.format(i=i, dim=dim, dim2=dim * 2, dim3=dim * 4, heads=rng.choice((4, 8)),
                                   loops=rng.randint(2, 6), clip=rng.randint(1, 9),
                                   warmup=rng.randint(10, 500), total=rng.randint(1000, 9000)) + "\n\n")
    return out


def generate(size_bytes: int, seed: int = 0) -> str:
    """A module of about `size_bytes` (imports, then pieces until the size is reached)."""
    sample = pieces(len(_TEMPLATES), seed)
    average = sum(map(len, sample)) / len(sample)
    count = max(1, round((size_bytes - len(HEADER)) / average))
    return HEADER + "".join(pieces(count, seed))


@dataclass(frozen=True)
class Measure:
    size_kb: int
    command: str
    seconds: float  # wall time
    cpu: float  # user + system time of the process
    peak_mb: float
    exit_code: int

    @property
    def seconds_per_mb(self) -> float:
        return self.seconds / (self.size_kb / 1024)


_CLI = ("import resource, sys\nfrom inplace_fix.cli import main\n"
        "try:\n    main(prog_name='inplace-fix')\n"
        "finally:\n    sys.stderr.write('\\nPEAK %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")


def _run_cli(args: list[str], cwd: Path) -> tuple[float, float, float, int]:
    """Wall time, CPU time, peak RSS (MB) and exit code of one CLI run (one process: -j 1)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CLI, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK ")]
    kb = int(peak[-1].split()[1]) if peak else 0
    return seconds, cpu, kb / 1024, proc.returncode


def _parse_only(path: Path, parser: str = "libcst") -> tuple[float, float, float]:
    """A bare parse of the whole file: libcst's (the floor for a rewrite that needs all of it) or the
    stdlib's (`ast`: the floor for any analysis, and the yardstick of this machine's speed)."""
    call = "libcst.parse_module(text)" if parser == "libcst" else "ast.parse(text)"
    code = (f"import resource, sys, time\nimport {parser}\ntext = open(sys.argv[1]).read()\n"
            f"t = time.perf_counter(); c = time.process_time(); {call}\n"
            "print(time.perf_counter() - t, time.process_time() - c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    seconds, cpu, kb = out.stdout.split()
    return float(seconds), float(cpu), int(kb) / 1024


COMMANDS = (
    ("scan", ["scan"]),
    ("migrate", ["migrate"]),
    ("migrate --unsafe", ["migrate", "--unsafe-fixes"]),
    ("migrate --apply", ["migrate", "--apply", "--unsafe-fixes"]),
)


def measure(size_kb: int, work: Path, parse: bool = True) -> list[Measure]:
    """Each command on a fresh copy of one generated file, and optionally a bare libcst parse."""
    folder = work / f"s{size_kb}"
    folder.mkdir()
    text = generate(size_kb * 1024)
    path = folder / "big_model.py"
    real_kb = max(1, round(len(text.encode()) / 1024))
    out = []
    for name, args in COMMANDS:
        path.write_text(text)
        seconds, cpu, peak, code = _run_cli([*args, "--jobs", "1", "--file-timeout", "0", path.name], folder)
        out.append(Measure(real_kb, name, seconds, cpu, peak, code))
    path.write_text(text)
    seconds, cpu, peak = _parse_only(path, "ast")
    out.append(Measure(real_kb, AST_ROW, seconds, cpu, peak, 0))
    if parse and size_kb <= PARSE_MAX_KB:
        seconds, cpu, peak = _parse_only(path)
        out.append(Measure(real_kb, "libcst parse only", seconds, cpu, peak, 0))
    return out


AST_ROW = "ast.parse only"


def _table(rows: list[Measure], header: bool = True) -> str:
    """One line per command; `x ast` is its CPU time over a bare `ast.parse` of the same file in the
    same run (machines differ by 2x and more; the ratio does not)."""
    lines = [f"{'size':>8}  {'command':<18} {'wall s':>7} {'cpu s':>7} {'cpu s/MB':>8} {'x ast':>6} "
             f"{'peak MB':>8} {'exit':>4}"]
    floor = {m.size_kb: m.cpu for m in rows if m.command == AST_ROW}
    for m in rows:
        ratio = m.cpu / floor[m.size_kb] if floor.get(m.size_kb) else float("nan")
        lines.append(f"{m.size_kb:>6}KB  {m.command:<18} {m.seconds:>7.2f} {m.cpu:>7.2f} "
                     f"{m.cpu / (m.size_kb / 1024):>8.2f} {ratio:>6.1f} {m.peak_mb:>8.0f} {m.exit_code:>4}")
    return "\n".join(lines if header else lines[1:])


def _missed(rows: list[Measure]) -> list[str]:
    """Targets are on CPU time (wall time on a shared machine measures the neighbours)."""
    missed = []
    for m in rows:
        if m.command.startswith("libcst") or m.command == AST_ROW:
            continue
        for kb, limit in TARGETS.items():
            if abs(m.size_kb - kb) <= kb * 0.1 and m.cpu > limit:
                missed.append(f"{m.command} on {m.size_kb} KB took {m.cpu:.2f} s of CPU (target {limit} s)")
        if m.peak_mb > MEMORY_MB:
            missed.append(f"{m.command} on {m.size_kb} KB peaked at {m.peak_mb:.0f} MB (target {MEMORY_MB:.0f} MB)")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only, no targets checked")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="KB", help="file sizes in KB")
    parser.add_argument("--no-parse", action="store_true", help="skip the bare libcst parse")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES_KB if args.quick else SIZES_KB)
    rows: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="inplace-fix-scale-") as tmp:
        for kb in sizes:
            done = measure(kb, Path(tmp), parse=not args.no_parse)
            print(_table(done, header=not rows), flush=True)
            rows.extend(done)
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in rows], indent=1))
    missed = [] if args.quick else _missed(rows)
    for line in missed:
        print("MISSED:", line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
