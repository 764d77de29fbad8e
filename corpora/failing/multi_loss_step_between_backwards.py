# inplace-fix-expect: kind=saved-tensor-modified modified=39 saved=19 rule=- fixable=no
# pattern: multi_loss_step_between_backwards
# A minimax objective: two losses over one graph, with opt.step() after the first
# backward; the second backward (the SECOND backward call) needs the old decoder weights.
# why: optimizer.step() between two backward passes over one graph; precompute both gradients with torch.autograd.grad, then step (or drop the first step, which changes the update rule)
import torch
import torch.nn as nn
import torch.nn.functional as F


class AssocAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(6, 4)
        self.dec = nn.Linear(4, 6)

    def forward(self, x):
        h = torch.tanh(self.enc(x))
        recon = self.dec(h)
        return recon, h


def main():
    torch.manual_seed(0)
    model = AssocAutoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(10, 6)
    k = 3.0
    for step in range(3):
        recon, h = model(x)
        rec_loss = F.mse_loss(recon, x)
        assoc = h.pow(2).mean()
        loss1 = rec_loss - k * assoc
        loss2 = rec_loss + k * assoc
        print(f"step {step} loss1 {loss1.item()!r}")
        print(f"step {step} loss2 {loss2.item()!r}")
        opt.zero_grad()
        loss1.backward(retain_graph=True)
        opt.step()  # minimise phase
        loss2.backward()
        opt.step()


if __name__ == "__main__":
    main()
