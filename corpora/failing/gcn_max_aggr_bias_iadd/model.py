import torch.nn as nn
import torch.nn.functional as F

from layers import GraphConv


class GCN(nn.Module):
    def __init__(self, in_dim, hidden, classes, aggr):
        super().__init__()
        self.conv1 = GraphConv(in_dim, hidden, aggr=aggr)
        self.conv2 = GraphConv(hidden, classes, aggr=aggr)

    def forward(self, x, edge_index):
        h = F.elu(self.conv1(x, edge_index))
        return self.conv2(h, edge_index)
