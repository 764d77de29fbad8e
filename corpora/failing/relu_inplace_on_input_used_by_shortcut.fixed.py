# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=20 constructed=15 rule=IPF004 fixable=yes
# pattern: relu_inplace_on_input_used_by_shortcut
# The block's shortcut Linear saved its input `x`; then an in-place ReLU applied to the
# same `x` on the main branch overwrites it before backward.
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 16)
        self.short = nn.Linear(16, 4)
        self.act = nn.ReLU()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = self.inp(x)
        shortcut = self.short(x)
        out = self.fc(self.act(x))
        return out + shortcut


def main():
    torch.manual_seed(0)
    model = ResidualMLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(8, 6)
    y = torch.randn(8, 4)
    for step in range(3):
        opt.zero_grad()
        loss = F.smooth_l1_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
