# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=19 rule=IPF001 fixable=yes
# pattern: warmup_noise_iadd_second_step (extra: the problem only appears at the SECOND backward call)
# Gate noise is switched on after the first (warm-up) step and added in place to the
# sigmoid output, which sigmoid saved: step 0 trains fine, step 1 fails in backward.
import torch
import torch.nn as nn
import torch.nn.functional as F


class NoisyGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.out = nn.Linear(6, 1)
        self.calls = 0

    def forward(self, x, noise_std):
        self.calls += 1
        g = torch.sigmoid(self.fc(x))
        if noise_std > 0:
            g += noise_std * torch.randn_like(g)
        return self.out(g)


def main():
    torch.manual_seed(0)
    model = NoisyGate()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 6)
    y = torch.randn(8, 1)
    for step in range(3):
        noise_std = 0.0 if step == 0 else 0.1
        opt.zero_grad()
        loss = F.mse_loss(model(x, noise_std), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
