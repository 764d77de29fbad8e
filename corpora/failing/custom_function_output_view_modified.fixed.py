# inplace-fix-expect: kind=view-modified modified=29 saved=- view=28 rule=IPF006 fixable=yes
# pattern: custom_function_output_view_modified
# A custom autograd.Function returns a view of its input; the caller then overwrites
# some rows of that output in place, which autograd forbids for custom-Function views.
import torch
import torch.nn as nn
import torch.nn.functional as F


class MergeHeads(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.in_shape = x.shape
        return x.view(x.shape[0], -1)

    @staticmethod
    def backward(ctx, grad):
        return grad.view(ctx.in_shape)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x, mask):
        hidden = MergeHeads.apply(self.proj(x).view(-1, 2, 3))
        hidden = hidden.clone()
        hidden[mask, :] = torch.ones(2, 6)
        return self.out(hidden)


def main():
    torch.manual_seed(0)
    model = Tagger()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 4)
    mask = torch.tensor([True, False, True, False])
    labels = torch.tensor([0, 1, 2, 1])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, mask), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
