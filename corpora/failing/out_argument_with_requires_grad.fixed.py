# inplace-fix-expect: kind=saved-tensor-modified modified=20 saved=21 rule=IPF007 fixable=yes
# pattern: out_argument_with_requires_grad
# Chunks are projected into one preallocated buffer with `out=`; the Linear that reads
# the buffer saved it for backward, and the next chunk overwrites it.
import torch
import torch.nn as nn
import torch.nn.functional as F


class ChunkedProjector(nn.Module):
    def __init__(self, d_in=6, d_proj=8):
        super().__init__()
        self.register_buffer("proj", torch.randn(d_in, d_proj) / d_in ** 0.5)
        self.fc = nn.Linear(d_proj, 1)

    def forward(self, x):
        buf = torch.empty(4, self.proj.shape[1])
        outs = []
        for chunk in x.split(4):
            buf = torch.matmul(chunk, self.proj)
            outs.append(self.fc(buf))
        return torch.cat(outs)


def main():
    torch.manual_seed(0)
    model = ChunkedProjector()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 6)
    y = torch.randn(8, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
