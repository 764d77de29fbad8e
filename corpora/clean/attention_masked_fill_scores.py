# inplace-fix-expect: clean
# pattern: masked_fill_on_scores_before_softmax
# Padding is masked on the attention SCORES, in place, before softmax: the matmul that
# produced the scores saved its inputs, not its output.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedSelfAttention(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, pad):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-2, -1)
        scores /= math.sqrt(q.shape[-1])
        scores.masked_fill_(pad, float("-inf"))
        attn = scores.softmax(dim=-1)
        return self.proj(attn @ v)


def main():
    torch.manual_seed(0)
    model = MaskedSelfAttention()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(2, 5, 8)
    pad = torch.zeros(2, 1, 5, dtype=torch.bool)
    pad[1, :, 3:] = True
    target = torch.randn(2, 5, 8)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x, pad), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
