# inplace-fix-expect: kind=saved-tensor-modified modified=28 saved=17 rule=IPF004 fixable=yes
# pattern: double_inplace_relu_convmodule
# A conv block already ends in ReLU(inplace=True), whose backward needs its output; the
# head applies F.relu(..., inplace=True) a second time on that very output.
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvModule(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.conv(x))


class RPNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.rpn_conv = ConvModule(3, 8)
        self.rpn_cls = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        x = self.rpn_conv(x)
        x = F.relu(x, inplace=True)
        return self.rpn_cls(x)


def main():
    torch.manual_seed(0)
    head = RPNHead()
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    feats = torch.randn(2, 3, 6, 6)
    labels = torch.randint(0, 2, (2, 6, 6))
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(head(feats), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
