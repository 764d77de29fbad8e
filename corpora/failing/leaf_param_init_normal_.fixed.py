# inplace-fix-expect: kind=leaf-modified modified=14 saved=- rule=IPF008 fixable=yes
# pattern: leaf_param_init_normal_
# A custom embedding initialises its Parameter with normal_() in __init__ with grad
# mode on; the Parameter is a leaf that requires grad.
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyEmbedding(nn.Module):
    def __init__(self, vocab=10, dim=4):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab, dim))
        with torch.no_grad():
            self.weight.normal_(0, 0.02)

    def forward(self, ids):
        return F.embedding(ids, self.weight)


class BagOfWords(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = TinyEmbedding()
        self.fc = nn.Linear(4, 2)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(1))


def main():
    torch.manual_seed(0)
    model = BagOfWords()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ids = torch.randint(0, 10, (6, 3))
    labels = torch.randint(0, 2, (6,))
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
