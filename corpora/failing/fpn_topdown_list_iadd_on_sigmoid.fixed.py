# inplace-fix-expect: kind=saved-tensor-modified modified=25 saved=22 rule=IPF001 fixable=yes
# pattern: fpn_topdown_list_iadd_on_sigmoid (extra: `outs[k] += ...` on a Python list of tensors)
# A top-down feature pyramid keeps its levels in a Python list and merges each coarser level
# into the finer one with `outs[k] += ...`; the element is a sigmoid output that autograd saved,
# so the in-place add breaks backward. Rebinding the list element fixes it.
import torch
import torch.nn as nn
import torch.nn.functional as F


class TopDown(nn.Module):
    def __init__(self, ch=4, levels=3):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv1d(ch, ch, 1) for _ in range(levels))
        self.up = nn.Linear(ch, ch)
        self.head = nn.Linear(ch, 1)

    def upsample(self, x):
        return F.interpolate(self.up(x.transpose(1, 2)).transpose(1, 2), scale_factor=2.0)

    def forward(self, feats):
        outs = [torch.sigmoid(conv(f)) for conv, f in zip(self.lateral, feats)]
        # coarse to fine: each level gets the upsampled coarser one
        for k in range(len(outs) - 2, -1, -1):
            outs[k] = outs[k] + self.upsample(outs[k + 1])
        return self.head(outs[0].mean(-1))


def main():
    torch.manual_seed(0)
    model = TopDown()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    feats = [torch.randn(2, 4, 16 // 2 ** i) for i in range(3)]
    target = torch.randn(2, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(feats), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
