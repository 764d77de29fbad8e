# inplace-fix-expect: kind=saved-tensor-modified modified=22 saved=21 rule=IPF002 fixable=yes
# pattern: masked_fill_inplace_after_softmax
# Padding positions are zeroed in the attention weights AFTER softmax, in place;
# softmax saved those weights for its backward.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyAttention(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, pad):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        attn = scores.softmax(dim=-1)
        attn = attn.masked_fill(pad, 0.0)
        return self.proj(attn @ v)


def main():
    torch.manual_seed(0)
    model = TinyAttention()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(2, 5, 8)
    pad = torch.zeros(2, 1, 5, dtype=torch.bool)
    pad[:, :, 3:] = True
    target = torch.randn(2, 5, 8)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x, pad), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
