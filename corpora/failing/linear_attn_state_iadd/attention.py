"""Recurrent (autoregressive) linear attention, one time step per call."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def elu_feature_map(x):
    return F.elu(x) + 1


class RecurrentLinearAttention(nn.Module):
    def __init__(self, d_model, n_heads, eps=1e-6):
        super().__init__()
        self.n_heads = n_heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.eps = eps

    def forward(self, x, state=None):
        n, d = x.shape
        h = self.n_heads
        q = elu_feature_map(self.query(x).view(n, h, -1))
        k = elu_feature_map(self.key(x).view(n, h, -1))
        v = self.value(x).view(n, h, -1)
        if state is None:
            si = q.new_zeros((n, h, q.shape[-1], v.shape[-1]))
            zi = q.new_zeros((n, h, q.shape[-1]))
        else:
            si, zi = state
        zi += k
        si += torch.einsum("nhd,nhm->nhdm", k, v)
        z = 1.0 / (torch.einsum("nhd,nhd->nh", q, zi) + self.eps)
        y = torch.einsum("nhd,nhdm,nh->nhm", q, si, z)
        return self.out(y.reshape(n, d)), [si, zi]


class RecurrentEncoder(nn.Module):
    def __init__(self, in_dim, d_model, n_heads, out_dim):
        super().__init__()
        self.embed = nn.Linear(in_dim, d_model)
        self.attn = RecurrentLinearAttention(d_model, n_heads)
        self.head = nn.Linear(d_model, out_dim)

    def forward(self, seq):
        state = None
        outs = []
        for x_t in seq:
            y, state = self.attn(self.embed(x_t), state)
            outs.append(self.head(y))
        return torch.stack(outs)
