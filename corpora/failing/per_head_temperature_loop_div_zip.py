# inplace-fix-expect: kind=view-modified modified=22 saved=- view=21 rule=IPF002 fixable=yes fix=IPF002@21
# pattern: in-place op on the views a loop over a tensor yields (extra: zipped with per-row constants)
# Attention logits are divided by a per-head temperature in a loop,
# `for head, t in zip(logits, temps): head.div_(t)`; iterating a tensor that requires grad
# yields unbind views, which may not be modified in place. Rebinding `head` would not write
# back, so the loop is rebuilt with torch.stack.
import torch
import torch.nn as nn

TEMPS = (0.5, 1.0, 2.0, 4.0)


class HeadScores(nn.Module):
    def __init__(self, dim=8, heads=4):
        super().__init__()
        self.qk = nn.Linear(dim, heads * 5)
        self.heads = heads

    def forward(self, x):
        logits = self.qk(x).view(self.heads, -1)
        for head, t in zip(logits, TEMPS):
            head.div_(t)
        return logits.softmax(-1)


def main():
    torch.manual_seed(0)
    model = HeadScores()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8)
    target = torch.rand(4, 5).softmax(-1)
    for step in range(3):
        probs = model(x)
        loss = ((probs - target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(f"step {step} loss {loss.item()!r}")


if __name__ == "__main__":
    main()
