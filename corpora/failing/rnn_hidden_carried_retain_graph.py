# inplace-fix-expect: kind=saved-tensor-modified modified=38 saved=21 rule=- fixable=no
# pattern: rnn_hidden_carried_retain_graph
# The hidden state is carried across iterations without detach (retain_graph=True), so
# the second backward walks into the first iteration's graph, whose saved recurrent
# weights opt.step() already updated. Fails at the SECOND backward call.
# why: a graph kept across iterations; detach the hidden state each iteration (truncated BPTT) and drop retain_graph=True, a choice of training semantics
import torch
import torch.nn as nn
import torch.nn.functional as F


class Cell(nn.Module):
    def __init__(self, d_in=3, d_h=8):
        super().__init__()
        self.h0 = nn.Parameter(torch.zeros(1, d_h))
        self.ih = nn.Linear(d_in, d_h)
        self.hh = nn.Linear(d_h, d_h)
        self.out = nn.Linear(d_h, 1)

    def forward(self, x, h):
        h = torch.tanh(self.ih(x) + self.hh(h))
        return self.out(h), h


def main():
    torch.manual_seed(0)
    cell = Cell()
    opt = torch.optim.SGD(cell.parameters(), lr=0.05)
    xs = torch.randn(3, 4, 3)
    ys = torch.randn(3, 4, 1)
    h = cell.h0.expand(4, -1)
    for step in range(3):
        pred, h = cell(xs[step], h)
        loss = F.mse_loss(pred, ys[step])
        print(f"step {step} loss {loss.item()!r}")
        opt.zero_grad()
        loss.backward(retain_graph=True)
        opt.step()


if __name__ == "__main__":
    main()
