import torch.nn as nn


class PreNormBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, h):
        h += self.fc(self.ln(h))
        return h


class TinyEncoder(nn.Module):
    def __init__(self, dim, depth):
        super().__init__()
        self.embed = nn.Linear(6, dim)
        self.blocks = nn.ModuleList(PreNormBlock(dim) for _ in range(depth))
        self.cls = nn.Linear(dim, 3)

    def forward(self, x):
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.cls(h.mean(1))
