# inplace-fix-expect: kind=saved-tensor-modified modified=layers.py:35 saved=layers.py:11 rule=IPF001 fixable=yes
# pattern: iadd_on_relu_output (extra: `out += self.bias` on a scatter_reduce(amax) result, which its backward saves)
# Reproduces https://github.com/pyg-team/pytorch_geometric/issues/8953: the message-passing tutorial's
# `out += self.bias` after a max aggregation; the layer module is imported by the model, argparse entry.
import argparse

import torch
import torch.nn.functional as F

from model import GCN


def random_graph(num_nodes, num_edges, gen):
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    loops = torch.arange(num_nodes)
    return torch.stack([torch.cat([src, loops]), torch.cat([dst, loops])])


class NodeClassifier:
    def __init__(self, args):
        torch.manual_seed(0)
        self.model = GCN(8, 16, 3, aggr=args.aggr)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=args.lr)

    def fit(self, x, edge_index, y, epochs):
        for epoch in range(epochs):
            self.opt.zero_grad()
            loss = F.cross_entropy(self.model(x, edge_index), y)
            print(f"step {epoch} loss {loss.item()!r}")
            loss.backward()
            self.opt.step()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--aggr", default="max", choices=["sum", "max"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(12, 8, generator=gen)
    edge_index = random_graph(12, 30, gen)
    y = torch.randint(0, 3, (12,), generator=gen)
    NodeClassifier(args).fit(x, edge_index, y, args.epochs)


if __name__ == "__main__":
    main()
