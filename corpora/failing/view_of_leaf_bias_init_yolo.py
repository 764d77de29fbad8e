# inplace-fix-expect: kind=view-modified modified=18 saved=- view=17 rule=IPF008 fixable=yes
# pattern: view_of_leaf_bias_init_yolo
# A YOLO-style detection head initialises its objectness bias through a view of the
# conv bias (a leaf that requires grad), in place, with grad mode on.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Detect(nn.Module):
    def __init__(self, ch=8, na=3, nc=2, stride=8):
        super().__init__()
        self.na, self.no = na, nc + 5
        self.m = nn.Conv2d(ch, na * self.no, 1)
        b = self.m.bias.view(na, -1)
        b[:, 4] += math.log(8 / (640 / stride) ** 2)

    def forward(self, x):
        return self.m(x)


def main():
    torch.manual_seed(0)
    head = Detect()
    opt = torch.optim.SGD(head.parameters(), lr=0.01)
    feats = torch.randn(2, 8, 4, 4)
    targets = torch.rand(2, 21, 4, 4)
    for step in range(3):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(head(feats), targets)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
