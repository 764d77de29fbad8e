import torch
import torch.nn as nn


def scatter(src, index, dim_size, reduce="sum"):
    """torch_scatter-style aggregation of edge messages onto their target nodes."""
    out = src.new_zeros(dim_size, src.size(1))
    idx = index.unsqueeze(1).expand_as(src)
    if reduce == "sum":
        return out.scatter_add(0, idx, src)
    return out.scatter_reduce(0, idx, src, reduce="amax", include_self=False)


class GraphConv(nn.Module):
    """A message-passing layer written after the PyG "create your own GNN" tutorial."""

    def __init__(self, in_channels, out_channels, aggr="sum"):
        super().__init__()
        self.aggr = aggr
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def message(self, x_j, norm):
        return norm.view(-1, 1) * x_j

    def forward(self, x, edge_index):
        row, col = edge_index
        x = self.lin(x)
        deg = torch.zeros(x.size(0)).index_add_(0, col, torch.ones(col.numel()))
        deg_inv_sqrt = deg.pow(-0.5)
        deg_inv_sqrt[deg_inv_sqrt == float("inf")] = 0
        norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]
        out = scatter(self.message(x[row], norm), col, x.size(0), reduce=self.aggr)
        # Step 6: apply a final bias vector.
        out = out + self.bias
        return out
