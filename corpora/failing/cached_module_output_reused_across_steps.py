# inplace-fix-expect: kind=saved-tensor-modified modified=38 saved=18 rule=- fixable=no
# pattern: cached_module_output_reused_across_steps
# The [MASK] embedding is computed once in __init__ and reused by every forward; its
# LayerNorm saved ln.weight, which opt.step() updates. Fails at the SECOND backward call.
# why: a tensor cached in __init__ keeps its graph across steps; cache a detached value (drops its gradients) or recompute it in forward() (changes later losses): a choice of training semantics
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK_ID = 3


class SoftMaskedEncoder(nn.Module):
    def __init__(self, vocab=10, dim=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.ln = nn.LayerNorm(dim)
        self.mask_e = self.ln(self.emb(torch.tensor([MASK_ID])))
        self.fc = nn.Linear(dim, vocab)

    def forward(self, ids, p=0.3):
        e = self.ln(self.emb(ids))
        e = p * self.mask_e + (1 - p) * e
        return self.fc(e)


def main():
    torch.manual_seed(0)
    model = SoftMaskedEncoder()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ids = torch.randint(0, 10, (4, 5))
    for step in range(3):
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, 10), ids.reshape(-1))
        print(f"step {step} loss {loss.item()!r}")
        opt.zero_grad()
        loss.backward(retain_graph=True)
        opt.step()


if __name__ == "__main__":
    main()
