# inplace-fix-expect: kind=silent-data-mutation modified=21 saved=19 rule=IPF005 fixable=yes fix=IPF005@20,IPF002@21
# pattern: data_alias_activation_stats_silent (extra: silent .data alias, fixable in two rounds)
# For logging, the author takes `act = h.data` believing it is a copy and clips it in
# place; it aliases `h`, which fc2 saved: no error, wrong fc2 weight gradients.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Monitored(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.fc2 = nn.Linear(6, 1)
        self.saturation = 0.0

    def forward(self, x):
        h = self.fc1(x)
        out = self.fc2(h)
        act = h.detach()
        act = act.clamp(max=0.9)
        self.saturation = (act >= 0.9).float().mean().item()
        return out


def main():
    torch.manual_seed(0)
    model = Monitored()
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
