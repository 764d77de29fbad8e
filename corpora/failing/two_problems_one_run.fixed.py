# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=20 rule=IPF001 fixable=yes
# inplace-fix-expect: kind=saved-tensor-modified modified=23 saved=22 rule=IPF004 fixable=yes
# pattern: two_problems_one_run (extra: two independent problems in one forward)
# Two branches each break autograd on their own: `+=` on a sigmoid output and an
# in-place ReLU on a tanh output. Both must be reported and fixed.
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fa = nn.Linear(5, 6)
        self.fb = nn.Linear(5, 6)
        self.bias_a = nn.Parameter(torch.zeros(6))
        self.out = nn.Linear(6, 1)

    def forward(self, x):
        a = torch.sigmoid(self.fa(x))
        a = a + self.bias_a
        b = torch.tanh(self.fb(x))
        b = F.relu(b)
        return self.out(a * b)


def main():
    torch.manual_seed(0)
    model = TwoBranch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(7, 5)
    y = torch.randn(7, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
