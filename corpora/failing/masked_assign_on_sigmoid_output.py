# inplace-fix-expect: kind=saved-tensor-modified modified=18 saved=17 rule=IPF006 fixable=yes
# pattern: masked_assign_on_sigmoid_output
# A gating layer hard-thresholds its sigmoid gate with a boolean-mask assignment;
# sigmoid's backward needs the gate values it produced.
import torch
import torch.nn as nn
import torch.nn.functional as F


class GatedLayer(nn.Module):
    def __init__(self, dim=6):
        super().__init__()
        self.gate = nn.Linear(dim, dim)
        self.fc = nn.Linear(dim, 1)

    def forward(self, x):
        p = torch.sigmoid(self.gate(x))
        p[p < 0.5] = 0
        return self.fc(x * p)


def main():
    torch.manual_seed(0)
    model = GatedLayer()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(10, 6)
    y = torch.randn(10, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
