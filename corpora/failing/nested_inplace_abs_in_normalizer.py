# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=20 rule=IPF002 fixable=yes
# pattern: nested_inplace_abs_in_normalizer (extra: in-place chain nested in another in-place call)
# A signed-attention normaliser subtracts `den.abs_().add_(1)` from the scores in one line; the
# inner chain overwrites `den`, a tanh output that autograd saved, and returns `den` itself, so
# `den` must be rebound before the outer call becomes out of place.
import torch
import torch.nn as nn
import torch.nn.functional as F


class SignedNorm(nn.Module):
    def __init__(self, dim=6):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, 3)

    def forward(self, x):
        num = self.q(x) * 2
        den = torch.tanh(self.k(x))
        num.sub_(den.abs_().add_(1))
        return self.out(num / den.sum(-1, keepdim=True))


def main():
    torch.manual_seed(0)
    model = SignedNorm()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(4, 6)
    labels = torch.tensor([0, 2, 1, 0])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
