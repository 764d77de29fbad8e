# inplace-fix-expect: kind=saved-tensor-modified modified=18 saved=17 rule=IPF003 fixable=yes
# pattern: torch_relu_inplace_function_after_tanh (extra: the in-place torch.xxx_ function form)
# torch.relu_ is called as a statement on a tanh output to "keep only the positive
# part"; tanh's backward needs its output.
import torch
import torch.nn as nn
import torch.nn.functional as F


class PositiveCode(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 8)
        self.dec = nn.Linear(8, 5)

    def forward(self, x):
        z = torch.tanh(self.fc(x))
        torch.relu_(z)
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
