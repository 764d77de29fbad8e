# inplace-fix-expect: clean
# pattern: batchnorm_called_twice_before_backward
# One BatchNorm module runs on two batches before a single backward; its running-stat
# update does not bump the version counter of what the first call saved.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 4)

    def embed(self, x):
        return self.head(F.relu(self.bn(self.fc(x))))

    def forward(self, a, b):
        return self.embed(a), self.embed(b)


def main():
    torch.manual_seed(0)
    model = Siamese()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    a, b = torch.randn(8, 6), torch.randn(8, 6)
    for step in range(3):
        opt.zero_grad()
        ea, eb = model(a, b)
        loss = F.cosine_embedding_loss(ea, eb, torch.ones(8))
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
