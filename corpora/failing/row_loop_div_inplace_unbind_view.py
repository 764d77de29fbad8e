# inplace-fix-expect: kind=view-modified modified=20 saved=- view=19 rule=IPF002 fixable=yes fix=IPF002@19
# pattern: row_loop_div_inplace_unbind_view (extra: in-place op on the loop variable that iterates a tensor)
# Each row of a softmax attention map is rescaled in a loop, `for row in attn: row.div_(...)`;
# iterating a tensor hands out views from `unbind`, which may not be modified in place, so the
# forward fails. The loop is rebuilt out of place with `torch.stack`.
import torch
import torch.nn as nn
import torch.nn.functional as F


class RowScale(nn.Module):
    def __init__(self, dim=5):
        super().__init__()
        self.score = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, x):
        attn = torch.softmax(self.score(x), dim=-1)
        for row in attn:
            row.div_(1.5)
        return self.out(attn * x)


def main():
    torch.manual_seed(0)
    model = RowScale()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 5)
    labels = torch.tensor([0, 1, 1, 0])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
