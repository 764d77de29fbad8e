# inplace-fix-expect: kind=saved-tensor-modified modified=20 saved=20 constructed=15 rule=IPF004 fixable=yes
# pattern: relu_inplace_after_tanh_output
# Inside an nn.Sequential, an in-place ReLU follows Tanh; Tanh saved its output for
# backward and the ReLU overwrites it. The fix belongs at the ReLU's construction line.
import torch
import torch.nn as nn


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(5, 16),
            nn.Tanh(),
            nn.ReLU(inplace=True),
            nn.Linear(16, 2),
        )

    def forward(self, obs):
        return self.body(obs)


def main():
    torch.manual_seed(0)
    policy = Policy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    obs = torch.randn(16, 5)
    target = torch.randn(16, 2)
    for step in range(3):
        opt.zero_grad()
        loss = (policy(obs) - target).pow(2).mean()
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
