# inplace-fix-expect: kind=saved-tensor-modified modified=attention.py:32 saved=attention.py:34 rule=IPF001 fixable=yes
# inplace-fix-expect: kind=saved-tensor-modified modified=attention.py:33 saved=attention.py:35 rule=IPF001 fixable=yes
# pattern: recurrent linear attention state updated with `+=` each step (extra: new row)
# Recurrent linear attention (https://github.com/idiap/fast-transformers/pull/10) accumulates its state with `zi += k` and
# `si += einsum(k, v)`; the previous step's einsum saved both states, so backward fails.
import argparse

import torch
import torch.nn.functional as F

from attention import RecurrentEncoder


class Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, seq, target):
        self.opt.zero_grad()
        loss = F.mse_loss(self.model(seq), target)
        loss.backward()
        self.opt.step()
        return loss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    torch.manual_seed(0)
    trainer = Trainer(RecurrentEncoder(4, 8, 2, 3), args.lr)
    seq = torch.randn(5, 2, 4)
    target = torch.randn(5, 2, 3)
    for step in range(args.steps):
        loss = trainer.step(seq, target)
        print(f"step {step} loss {loss.item()!r}")


if __name__ == "__main__":
    main()
