# inplace-fix-expect: kind=leaf-modified modified=18 saved=- constructed=14 rule=IPF004 fixable=yes
# pattern: inplace_relu_on_parameter_bifpn
# BiFPN-style weighted fusion passes its learnable fusion weights (a Parameter, i.e. a
# leaf) through a ReLU module built with inplace=True.
import torch
import torch.nn as nn
import torch.nn.functional as F


class WeightedFusion(nn.Module):
    def __init__(self, ch=4):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))
        self.act = nn.ReLU()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, p3, p4):
        w = self.act(self.w)
        w = w / (w.sum() + 1e-4)
        return self.conv(w[0] * p3 + w[1] * p4)


def main():
    torch.manual_seed(0)
    fuse = WeightedFusion()
    opt = torch.optim.SGD(fuse.parameters(), lr=0.1)
    p3, p4 = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    target = torch.randn(2, 4, 6, 6)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(fuse(p3, p4), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
