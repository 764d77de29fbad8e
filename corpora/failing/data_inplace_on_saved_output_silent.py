# inplace-fix-expect: kind=silent-data-mutation modified=19 saved=18 rule=IPF005 fixable=no
# pattern: data_inplace_on_saved_output_silent
# The sigmoid output is halved through `.data`; torch raises nothing (no version bump)
# but sigmoid's backward now uses the halved values: the gradients are silently wrong.
# why: the .data write is part of the forward (fc2 reads the halved h); making it visible (h = h * 0.5) changes the gradients from the original's, and .data is sometimes a deliberate straight-through trick: flag it and ask
import torch
import torch.nn as nn
import torch.nn.functional as F


class HalfGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.fc2 = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.sigmoid(self.fc1(x))
        h.data.mul_(0.5)
        return self.fc2(h)


def main():
    torch.manual_seed(0)
    model = HalfGate()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    y = torch.randn(8, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
