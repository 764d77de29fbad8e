# inplace-fix-expect: kind=saved-tensor-modified modified=31 saved=24 rule=- fixable=no
# pattern: gan_optD_step_before_errG_backward
# The discriminator is stepped between the two backward passes; D(fake) saved D's
# weights for the generator's gradient, and opt_d.step() updates them in place.
# why: optimizer.step() between a forward and its backward; fix by doing both backward passes (with inputs=) before any step(), or recompute D(fake) after opt_d.step() (changes the generator loss): a choice of update semantics
import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.randn(16, 2) * 0.5 + 1.0
    ones = torch.ones(16, 1)
    zeros = torch.zeros(16, 1)
    for step in range(3):
        z = torch.randn(16, 4)
        fake = G(z)
        d_real = D(real)
        d_fake = D(fake)
        loss_d = bce(d_real, ones) + bce(d_fake, zeros)
        loss_g = bce(d_fake, ones)
        print(f"step {step} loss_d {loss_d.item()!r}")
        print(f"step {step} loss_g {loss_g.item()!r}")
        opt_d.zero_grad()
        loss_d.backward(retain_graph=True)
        opt_d.step()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()


if __name__ == "__main__":
    main()
