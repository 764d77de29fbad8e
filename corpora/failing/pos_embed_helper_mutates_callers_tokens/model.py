import torch
import torch.nn as nn

from layers import add_pos_embed_


class PatchEncoder(nn.Module):
    """Tokens -> projected patches, a learned gate, then the position embedding added."""

    def __init__(self, dim_in=6, dim=8, tokens=5):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim)
        self.scale = nn.Parameter(torch.zeros(dim))
        self.pos_embed = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.head = nn.Linear(dim, 1)

    def forward(self, tokens):
        h = self.proj(tokens)
        gated = h * torch.sigmoid(self.scale)
        add_pos_embed_(h, self.pos_embed)
        return self.head(h + gated).mean()
