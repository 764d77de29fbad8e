# inplace-fix-expect: kind=saved-tensor-modified modified=model.py:16 saved=model.py:15 constructed=model.py:11 rule=IPF004 fixable=yes
# pattern: relu_inplace_then_dropout_inplace
# An MLP head (model.py) runs an in-place ReLU and then an in-place Dropout on its
# output; ReLU saved that output for backward, and Dropout scales/zeroes it in place.
import torch
import torch.nn.functional as F

from model import MLPHead


def main():
    torch.manual_seed(0)
    head = MLPHead(10, 32, 4)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    x = torch.randn(16, 10)
    y = torch.randint(0, 4, (16,))
    head.train()
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(head(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
