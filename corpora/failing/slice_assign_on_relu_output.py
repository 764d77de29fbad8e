# inplace-fix-expect: kind=saved-tensor-modified modified=18 saved=17 rule=IPF006 fixable=yes
# pattern: slice_assign_on_relu_output
# A spatial attention map is computed with ReLU, then its first column is zeroed with a
# slice assignment, which writes into the tensor ReLU saved for backward.
import torch
import torch.nn as nn
import torch.nn.functional as F


class BorderAttention(nn.Module):
    def __init__(self, ch=4):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)
        self.cls = nn.Linear(ch, 2)

    def forward(self, feat):
        att = F.relu(self.conv(feat))
        att[:, :, :, 0] = 0
        pooled = (feat * att).mean(dim=(2, 3))
        return self.cls(pooled)


def main():
    torch.manual_seed(0)
    model = BorderAttention()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    feat = torch.randn(3, 4, 5, 5)
    labels = torch.tensor([0, 1, 1])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(feat), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
