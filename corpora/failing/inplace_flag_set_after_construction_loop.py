# inplace-fix-expect: kind=saved-tensor-modified modified=22 saved=22 constructed=17 rule=IPF004 fixable=yes fix=IPF004@28
# pattern: inplace_flag_set_after_construction_loop (extra: `m.inplace=True` set on every module after construction)
# A memory-saving helper flips every activation to in-place after the model is built; the
# ReLU follows a Tanh, whose saved output it now overwrites. The flag to change is the one the
# helper sets, not the construction.
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(6, 16),
            nn.Tanh(),
            nn.ReLU(),
            nn.Linear(16, 2),
        )

    def forward(self, x):
        return self.body(x)


def save_activation_memory(model):
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace=True
    return model


def main():
    torch.manual_seed(0)
    model = save_activation_memory(MLP())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    labels = torch.tensor([0, 1, 1, 0, 1])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
