import torch
import torch.nn as nn
import torch.nn.functional as F


def get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TokenMixer(nn.Module):
    def __init__(self, dim=16, hidden=32, dropout=0.1):
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)
        self.activation = get_activation_fn("relu")
        self.norm = nn.LayerNorm(dim)

    def forward(self, src):
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
        return self.norm(src + src2)


class MiniMVANet(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 3, padding=1), nn.BatchNorm2d(dim), nn.ReLU())
        self.mixer = TokenMixer(dim)
        self.head = nn.Conv2d(dim, 1, 1)
        for m in self.modules():
            if isinstance(m, nn.ReLU) or isinstance(m, nn.Dropout):
                m.inplace=False

    def forward(self, x):
        feat = self.stem(x)
        b, c, h, w = feat.shape
        tokens = self.mixer(feat.flatten(2).transpose(1, 2))
        feat = tokens.transpose(1, 2).reshape(b, c, h, w)
        return self.head(feat)
