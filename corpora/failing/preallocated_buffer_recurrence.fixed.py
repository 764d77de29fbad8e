# inplace-fix-expect: kind=saved-tensor-modified modified=23 saved=23 rule=IPF006 fixable=yes
# pattern: preallocated_buffer_recurrence
# A recurrence writes each step into a preallocated `hs` tensor; the matmul reading
# hs[t - 1] saved that slice, and the next step's write bumps the whole buffer's version.
# The statement reads hs[t - 1] and writes hs[t]: cloning hs first would let the matmul save a
# slice of the clone that the write then bumps, so the write goes to a copy while the value reads hs.
import torch
import torch.nn as nn
import torch.nn.functional as F


class BufferRNN(nn.Module):
    def __init__(self, d_in=3, d_h=8):
        super().__init__()
        self.inp = nn.Linear(d_in, d_h)
        self.W = nn.Parameter(torch.randn(d_h, d_h) * 0.3)
        self.out = nn.Linear(d_h, 1)

    def forward(self, xs):
        steps, batch, _ = xs.shape
        hs = xs.new_zeros(steps + 1, batch, self.W.shape[0])
        for t in range(1, steps + 1):
            hs_new = hs.clone()
            hs_new[t] = torch.tanh(self.inp(xs[t - 1]) + hs[t - 1] @ self.W)
            hs = hs_new
        return self.out(hs[-1])


def main():
    torch.manual_seed(0)
    model = BufferRNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xs = torch.randn(4, 2, 3)
    y = torch.randn(2, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(xs), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
