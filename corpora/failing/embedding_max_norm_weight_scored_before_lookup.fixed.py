# inplace-fix-expect: kind=saved-tensor-modified modified=23 saved=22 rule=- fixable=yes fix=clone-saved@22
# pattern: embedding_max_norm_weight_scored_before_lookup (extra: a write inside torch's C++, named by the dispatch re-run)
# A retrieval head scores every item embedding against the queries, then looks the
# positive items up. nn.Embedding(max_norm=...) renormalises the looked-up rows of its
# weight in place (torch.embedding_renorm_ under no_grad, inside F.embedding), and the
# matmul saved that weight for backward. torch's nn.Embedding docs give the fix: clone
# the weight where the matmul uses it.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Retriever(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(6, 4)
        self.items = nn.Embedding(12, 4, max_norm=1.0)

    def forward(self, x, positives):
        q = self.query(x)
        # score every item, then fetch the positives' rows
        scores = self.items.weight.clone() @ q.t()
        pos = self.items(positives)
        return scores.t(), (q * pos).sum(-1)


def main():
    torch.manual_seed(0)
    model = Retriever()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    positives = torch.tensor([0, 3, 5, 7, 9])
    for step in range(3):
        opt.zero_grad()
        scores, agree = model(x, positives)
        loss = F.cross_entropy(scores, positives) - agree.mean()
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
