# inplace-fix-expect: kind=saved-tensor-modified modified=24 saved=23 rule=IPF006 fixable=yes
# inplace-fix-expect: kind=saved-tensor-modified modified=24 saved=24 rule=IPF006 fixable=yes
# pattern: yolo_decode_slice_assign_reads_itself (extra: the slice assignment's value reads the tensor it writes)
# A YOLO-style head decodes its raw output in place: the sigmoid output `p` is written slice by
# slice, and the size slice is computed from `p` itself with `.pow(2)`, which saves its input (a
# view of `p`). Cloning `p` first is not enough: the write must go to a copy while the value reads the
# original.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self, ch=8, anchors=3):
        super().__init__()
        self.anchors = anchors
        self.conv = nn.Conv2d(ch, anchors * 5, 1)
        self.register_buffer("anchor_wh", torch.tensor([[1.0, 1.5], [2.0, 2.0], [3.5, 2.5]]).view(1, 3, 1, 1, 2))

    def forward(self, feat):
        b, _, h, w = feat.shape
        p = self.conv(feat).view(b, self.anchors, 5, h, w).permute(0, 1, 3, 4, 2)
        p = p.sigmoid()
        p[..., 2:4] = p[..., 2:4].pow(2) * 4 * self.anchor_wh
        p[..., 0:2] = p[..., 0:2] * 2 - 0.5
        return p


def main():
    torch.manual_seed(0)
    model = Head()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    feat = torch.randn(2, 8, 4, 4)
    target = torch.rand(2, 3, 4, 4, 5)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(feat), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
