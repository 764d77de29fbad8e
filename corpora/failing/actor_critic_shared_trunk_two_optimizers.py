# inplace-fix-expect: kind=saved-tensor-modified modified=44 saved=21 rule=- fixable=no
# pattern: actor_critic_shared_trunk_two_optimizers
# Actor and critic share a trunk but have separate optimizers; the critic's step updates
# the shared trunk weights that the actor loss still needs for its backward pass.
# why: optimizer.step() between a forward and its backward; compute every gradient first (torch.autograd.grad per loss), then assign .grad and step each optimizer
import torch
import torch.nn as nn
import torch.nn.functional as F


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk1 = nn.Linear(4, 16)
        self.trunk2 = nn.Linear(16, 16)
        self.pi = nn.Linear(16, 2)
        self.v = nn.Linear(16, 1)

    def forward(self, obs):
        h = torch.tanh(self.trunk1(obs))
        h = torch.tanh(self.trunk2(h))
        return self.pi(h), self.v(h)


def main():
    torch.manual_seed(0)
    model = ActorCritic()
    trunk = list(model.trunk1.parameters()) + list(model.trunk2.parameters())
    opt_a = torch.optim.Adam(trunk + list(model.pi.parameters()), lr=1e-3)
    opt_c = torch.optim.Adam(trunk + list(model.v.parameters()), lr=1e-3)
    obs = torch.randn(12, 4)
    actions = torch.randint(0, 2, (12, 1))
    returns = torch.randn(12, 1)
    for step in range(3):
        logits, value = model(obs)
        logp = F.log_softmax(logits, dim=-1).gather(1, actions)
        adv = returns - value
        actor_loss = -(logp * adv.detach()).mean()
        critic_loss = adv.pow(2).mean()
        print(f"step {step} loss_actor {actor_loss.item()!r}")
        print(f"step {step} loss_critic {critic_loss.item()!r}")
        opt_c.zero_grad()
        critic_loss.backward(retain_graph=True)
        opt_c.step()
        opt_a.zero_grad()
        actor_loss.backward()
        opt_a.step()


if __name__ == "__main__":
    main()
