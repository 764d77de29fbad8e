# inplace-fix-expect: kind=saved-tensor-modified modified=model.py:17 saved=model.py:17 constructed=model.py:12 rule=IPF004 fixable=yes
# pattern: relu_inplace_after_tanh_output (extra: the flag is a variable from an argparse option)
# `--inplace-act` (on by default, to save memory) reaches `nn.ReLU(inplace=inplace)` in
# model.py, right after a Tanh that saved its output; the ReLU overwrites it. The fix
# writes `inplace=False` at the construction, whatever the option says.
import argparse

import torch
import torch.nn.functional as F

from model import ValueHead


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inplace-act", action=argparse.BooleanOptionalAction, default=True,
                        help="run the activation in place to save memory")
    parser.add_argument("--steps", type=int, default=3)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    head = ValueHead(6, 1, inplace=args.inplace_act)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    x = torch.randn(32, 6)
    y = torch.randn(32, 1)
    for step in range(args.steps):
        opt.zero_grad()
        loss = F.mse_loss(head(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
