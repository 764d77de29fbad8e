# inplace-fix-expect: kind=saved-tensor-modified modified=layers.py:3 saved=model.py:19 rule=IPF002 fixable=yes fix=clone-saved@model.py:19
# pattern: saved activation modified in place by a helper the caller relies on (extra: ViT-style position embedding)
# args: --steps 3 --lr 0.05
# A helper in layers.py adds the position embedding in place and returns nothing; the
# caller relies on that. The gate in model.py saved `h` for backward before the helper ran.
# Making the helper's add out of place (`x = x.add(...)`) drops the embedding for the
# caller, so the loss changes and --apply rejects it; cloning `h` where the gate saves it
# keeps every value and verifies.
import argparse

import torch

from model import PatchEncoder


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = PatchEncoder()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    tokens = torch.randn(4, 5, 6)
    for step in range(args.steps):
        loss = model(tokens)
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(f"step {step} loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
