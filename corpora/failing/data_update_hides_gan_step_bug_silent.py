# inplace-fix-expect: kind=silent-data-mutation modified=26 saved=19 rule=IPF005 fixable=no
# pattern: data_update_hides_gan_step_bug_silent
# Old-style GAN loop updating D through `.data` between the two backward passes: no
# error is raised, but G's gradient is computed with the already-updated D weights.
# why: the same optimizer-step-between-backwards problem as the GAN case, hidden by .data; do all backward passes first (with inputs=), then update: a reordering of the loop
import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    bce = nn.BCEWithLogitsLoss()
    real = torch.randn(16, 2) + 1.0
    for step in range(3):
        fake = G(torch.randn(16, 4))
        d_real = D(real)
        d_fake = D(fake)
        loss_d = bce(d_real, torch.ones(16, 1)) + bce(d_fake, torch.zeros(16, 1))
        loss_g = bce(d_fake, torch.ones(16, 1))
        print(f"step {step} loss_d {loss_d.item()!r}")
        print(f"step {step} loss_g {loss_g.item()!r}")
        D.zero_grad()
        loss_d.backward(retain_graph=True)
        for p in D.parameters(): p.data.add_(-0.5 * p.grad)
        G.zero_grad()
        loss_g.backward()
        for p in G.parameters(): p.data.add_(-0.5 * p.grad)


if __name__ == "__main__":
    main()
