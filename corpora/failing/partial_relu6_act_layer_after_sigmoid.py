# inplace-fix-expect: kind=saved-tensor-modified modified=23 saved=21 constructed=17 rule=IPF004 fixable=yes fix=IPF004@28
# pattern: partial_relu6_act_layer_after_sigmoid (extra: timm-style `act_layer=partial(nn.ReLU6, inplace=True)`)
# A MobileNet-style block takes its activation as a factory, `act_layer=partial(nn.ReLU6,
# inplace=True)`, and builds it inside the block; the activation runs on a sigmoid gate, whose
# saved output it overwrites. The flag lives in the partial, two frames above the construction.
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F


class GatedBlock(nn.Module):
    def __init__(self, dim=6, act_layer=nn.ReLU):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.act = act_layer()
        self.out = nn.Linear(dim, 2)

    def forward(self, x):
        gate = torch.sigmoid(self.fc(x))
        # the activation overwrites the gate sigmoid saved
        return self.out(self.act(gate) * x)


def main():
    torch.manual_seed(0)
    model = GatedBlock(act_layer=partial(nn.ReLU6, inplace=True))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    labels = torch.tensor([0, 1, 1, 0, 1])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
