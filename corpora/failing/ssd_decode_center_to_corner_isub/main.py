# inplace-fix-expect: kind=saved-tensor-modified modified=box_utils.py:13 saved=multibox_loss.py:17 rule=IPF006 fixable=yes
# pattern: yolo_decode_slice_assign_reads_itself (extra: a helper converts the caller's boxes in place; the size term's `.log()` saved a view)
# Reproduces https://github.com/dlyldxwl/Stronger-One-stage-detector-with-much-Tricks/issues/1: SSD's
# `boxes[:, :2] -= boxes[:, 2:] / 2` decode for a GIoU loss, after a log-size term read the same boxes.
import argparse

import torch
import torch.nn as nn

from multibox_loss import MultiBoxGIoULoss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-priors", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    torch.manual_seed(0)
    n = args.num_priors
    loc_head = nn.Conv2d(4, 4, 3, padding=1)
    criterion = MultiBoxGIoULoss()
    opt = torch.optim.SGD(loc_head.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(1)
    feat = torch.randn(1, 4, 2, n // 2, generator=gen)
    priors = torch.cat([torch.rand(n, 2, generator=gen), 0.1 + 0.3 * torch.rand(n, 2, generator=gen)], 1)
    gt_xy = torch.rand(n, 2, generator=gen) * 0.6
    gt = torch.cat([gt_xy, gt_xy + 0.1 + 0.3 * torch.rand(n, 2, generator=gen)], 1)
    for it in range(args.iters):
        opt.zero_grad()
        loc = loc_head(feat).permute(0, 2, 3, 1).reshape(-1, 4)
        loss = criterion(loc, priors, gt)
        print(f"step {it} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
