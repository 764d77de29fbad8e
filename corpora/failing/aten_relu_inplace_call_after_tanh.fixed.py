# inplace-fix-expect: kind=saved-tensor-modified modified=19 saved=18 rule=IPF003 fixable=yes fix=clone-saved@18
# pattern: aten_relu_inplace_call_after_tanh (extra: a direct torch.ops.aten call)
# A block ported from a printed FX/aten graph keeps its `torch.ops.aten.relu_(z)` call on a
# tanh output; tanh's backward needs that output. IPF003 knows only torch.X_ and F.X_, so
# the fix clones the tensor where tanh saves it.
import torch
import torch.nn as nn
import torch.nn.functional as F


class PositiveCode(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 8)
        self.dec = nn.Linear(8, 5)

    def forward(self, x):
        z = torch.tanh(self.fc(x)).clone()
        torch.ops.aten.relu_(z)
        return self.dec(z)


def main():
    torch.manual_seed(0)
    model = PositiveCode()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(9, 5)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
