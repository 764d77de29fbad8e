# inplace-fix-expect: kind=saved-tensor-modified modified=24 saved=20 rule=IPF001 fixable=yes
# pattern: buffer_copy_after_use_in_forward
# A running-normalisation layer divides by its `std` buffer and then updates the buffer
# in place in the same forward; the division saved the divisor for backward.
import torch
import torch.nn as nn
import torch.nn.functional as F


class RunningNorm(nn.Module):
    def __init__(self, d_in=5, dim=6):
        super().__init__()
        self.inp = nn.Linear(d_in, dim)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.fc = nn.Linear(dim, 1)

    def forward(self, x):
        h = self.inp(x)
        out = (h - self.mean) / self.std
        if self.training:
            stats = h.detach()
            self.mean += 0.1 * (stats.mean(0) - self.mean)
            self.std = self.std + 0.1 * (stats.std(0) - self.std)
        return self.fc(out)


def main():
    torch.manual_seed(0)
    model = RunningNorm()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(16, 5)
    y = torch.randn(16, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
