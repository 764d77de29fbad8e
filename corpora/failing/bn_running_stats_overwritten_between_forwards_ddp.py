# inplace-fix-expect: kind=saved-tensor-modified modified=34 saved=20 rule=IPF002 fixable=no
# pattern: bn_running_stats_overwritten_between_forwards_ddp
# BroadcastingWrapper does what DistributedDataParallel(broadcast_buffers=True) does at
# the start of every forward: copy rank 0's buffers in place. BatchNorm saved its running
# stats in the first forward; the second forward's broadcast overwrites them.
# why: the in-place copy_ is DDP's buffer broadcast, not user code; use DDP(..., broadcast_buffers=False) or SyncBatchNorm, or sync buffers once before the first forward of the step
import torch
import torch.nn as nn
import torch.nn.functional as F


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        h = F.leaky_relu(self.bn(self.fc1(x)), 0.2)
        return self.fc2(h)


class BroadcastingWrapper(nn.Module):
    """Single-process stand-in for DDP's buffer broadcast (world size 1 skips it)."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.rank0_buffers = {n: b.clone() for n, b in module.named_buffers()}

    def forward(self, x):
        for name, buf in self.module.named_buffers():
            buf.copy_(self.rank0_buffers[name])
        return self.module(x)


def main():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    D = BroadcastingWrapper(Discriminator())
    opt_d = torch.optim.SGD(D.parameters(), lr=0.01)
    bce = nn.BCEWithLogitsLoss()
    real = torch.randn(8, 2)
    for step in range(3):
        fake = G(torch.randn(8, 4)).detach()
        d_real = D(real)
        d_fake = D(fake)
        loss_d = bce(d_real, torch.ones(8, 1)) + bce(d_fake, torch.zeros(8, 1))
        print(f"step {step} loss {loss_d.item()!r}")
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()


if __name__ == "__main__":
    main()
