# inplace-fix-expect: kind=saved-tensor-modified modified=33 saved=19 rule=IPF002 fixable=no
# pattern: no_grad_weight_clip_between_forward_and_backward
# WGAN weight clipping placed between the critic's forward and its backward: the clamp
# runs under no_grad but still bumps the version of weights the Linear layers saved.
# why: move the clipping after optimizer.step() (WGAN Algorithm 1) or before the forward; either changes the parameter trajectory and needs a human to confirm
import torch
import torch.nn as nn
import torch.nn.functional as F


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(2, 16)
        self.l2 = nn.Linear(16, 1)

    def forward(self, x):
        h = F.leaky_relu(self.l1(x), 0.2)
        return self.l2(h)


def main():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    critic = Critic()
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    real = torch.randn(8, 2) + 2.0
    for step in range(3):
        fake = G(torch.randn(8, 4))
        loss_c = critic(fake).mean() - critic(real).mean()
        print(f"step {step} loss {loss_c.item()!r}")
        with torch.no_grad():
            for p in critic.parameters(): p.clamp_(-0.01, 0.01)
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()


if __name__ == "__main__":
    main()
