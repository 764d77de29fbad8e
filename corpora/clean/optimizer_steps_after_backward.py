# inplace-fix-expect: clean
# pattern: optimizer_steps_after_backward_foreach
# Optimizers write every parameter in place, but only AFTER backward: with
# foreach=True and foreach=False, two optimizers, gradient clipping, and a scheduler.
import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8))
    head = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 1))
    opt_enc = torch.optim.AdamW(enc.parameters(), lr=1e-3, foreach=True)
    opt_head = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9, foreach=False)
    sched = torch.optim.lr_scheduler.StepLR(opt_enc, step_size=1, gamma=0.9)
    x = torch.randn(10, 6)
    y = torch.randn(10, 1)
    for step in range(3):
        opt_enc.zero_grad()
        opt_head.zero_grad()
        loss = F.mse_loss(head(enc(x)), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(enc.parameters(), 1.0)
        opt_enc.step()
        opt_head.step()
        sched.step()


if __name__ == "__main__":
    main()
