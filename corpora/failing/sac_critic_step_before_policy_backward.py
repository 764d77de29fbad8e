# inplace-fix-expect: kind=saved-tensor-modified modified=48 saved=19 rule=- fixable=no
# pattern: sac_critic_step_before_policy_backward
# SAC-style update: the critic is stepped before the policy loss is backpropagated
# through the critic, whose Linear layers saved their weights to reach the action.
# why: optimizer.step() between a forward and its backward; update the policy before the critic (both losses were computed before any step), a reordering of the training loop
import torch
import torch.nn as nn
import torch.nn.functional as F


class QNet(nn.Module):
    def __init__(self, obs_dim=3, act_dim=2):
        super().__init__()
        self.l1 = nn.Linear(obs_dim + act_dim, 16)
        self.l2 = nn.Linear(16, 1)

    def forward(self, obs, act):
        h = F.relu(self.l1(torch.cat([obs, act], dim=-1)))
        return self.l2(h)


class Actor(nn.Module):
    def __init__(self, obs_dim=3, act_dim=2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU(), nn.Linear(16, act_dim))

    def forward(self, obs):
        return torch.tanh(self.net(obs))


def main():
    torch.manual_seed(0)
    actor, critic = Actor(), QNet()
    opt_pi = torch.optim.Adam(actor.parameters(), lr=3e-4)
    opt_q = torch.optim.Adam(critic.parameters(), lr=3e-4)
    obs = torch.randn(8, 3)
    act_batch = torch.rand(8, 2) * 2 - 1
    q_target = torch.randn(8, 1)
    for step in range(3):
        q_pi = critic(obs, actor(obs))
        q_data = critic(obs, act_batch)
        critic_loss = F.mse_loss(q_data, q_target)
        policy_loss = -q_pi.mean()
        print(f"step {step} loss_q {critic_loss.item()!r}")
        print(f"step {step} loss_pi {policy_loss.item()!r}")
        opt_q.zero_grad()
        critic_loss.backward()
        opt_q.step()
        opt_pi.zero_grad()
        policy_loss.backward()
        opt_pi.step()


if __name__ == "__main__":
    main()
