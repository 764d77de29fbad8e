# inplace-fix-expect: kind=silent-data-mutation modified=19 saved=18 rule=IPF005 fixable=yes fix=IPF002@19 losses=change
# pattern: data_inplace_on_saved_output_silent
# The sigmoid output is halved through `.data`; torch raises nothing (no version bump)
# but sigmoid's backward now uses the halved values: the gradients are silently wrong.
# Fixed by making the write visible (h = h.mul(0.5)), confirmed by the float64 finite-difference check.
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
        h = h.mul(0.5)
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
