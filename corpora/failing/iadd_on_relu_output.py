# inplace-fix-expect: kind=saved-tensor-modified modified=22 saved=21 rule=IPF001 fixable=yes
# pattern: iadd_on_relu_output
# A tiny FPN-style neck adds a lateral branch to a ReLU output with `+=`; ReLU saved
# its output for backward, so the in-place add breaks the gradient computation.
# args: --epochs 1 --lr 0.05
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyNeck(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.lateral = nn.Conv2d(3, 8, 1)
        self.head = nn.Conv2d(8, 1, 1)

    def forward(self, img):
        x = F.relu(self.stem(img))
        x += self.lateral(img)
        return self.head(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = TinyNeck()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    images = torch.randn(2, 3, 8, 8)
    heatmaps = torch.rand(2, 1, 8, 8)
    step = 0
    for epoch in range(args.epochs):
        for _ in range(3):
            opt.zero_grad()
            loss = F.mse_loss(model(images), heatmaps)
            print(f"step {step} loss {loss.item()!r}")
            loss.backward()
            opt.step()
            step += 1


if __name__ == "__main__":
    main()
