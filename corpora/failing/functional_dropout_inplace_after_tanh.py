# inplace-fix-expect: kind=saved-tensor-modified modified=19 saved=18 rule=IPF004 fixable=yes
# pattern: functional_dropout_inplace_after_tanh
# A character encoder applies functional dropout with inplace=True right after tanh,
# whose backward needs tanh's output.
import torch
import torch.nn as nn
import torch.nn.functional as F


class CharEncoder(nn.Module):
    def __init__(self, vocab=20, dim=8):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, ids):
        h = torch.tanh(self.proj(self.emb(ids)))
        h = F.dropout(h, p=0.3, training=self.training, inplace=True)
        return self.out(h)


def main():
    torch.manual_seed(0)
    enc = CharEncoder()
    opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    ids = torch.randint(0, 20, (4, 7))
    nxt = torch.randint(0, 20, (4, 7))
    for step in range(3):
        opt.zero_grad()
        logits = enc(ids)
        loss = F.cross_entropy(logits.reshape(-1, 20), nxt.reshape(-1))
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
