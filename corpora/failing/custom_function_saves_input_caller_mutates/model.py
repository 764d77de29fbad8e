import torch
import torch.nn as nn

from ops import FeatureScale


class SplatNet(nn.Module):
    def __init__(self, d_in=5, dim=8):
        super().__init__()
        self.proj = nn.Linear(d_in, dim)
        self.scale = nn.Parameter(torch.ones(dim))
        self.head = nn.Linear(2 * dim, 1)

    def forward(self, x):
        feat = self.proj(x)
        out = FeatureScale.apply(feat, self.scale)
        feat.relu_()
        return self.head(torch.cat([out, feat], dim=-1))
