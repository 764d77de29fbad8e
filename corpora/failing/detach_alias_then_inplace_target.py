# inplace-fix-expect: kind=saved-tensor-modified modified=31 saved=29 rule=IPF006 fixable=yes fix=clone-saved@29
# pattern: detach_alias_then_inplace_target
# A soft target is built from `probs.detach()` and boosted in place at the label
# positions; detach() shares storage (and version counter) with the softmax output, so the
# write also changes `probs`, which softmax saved (and which `log(probs)` then reads).
# Copying `target` first changes what `log(probs)` reads, so the loss changes and that
# candidate is rejected; cloning the softmax output keeps every value the script computes.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(x)


def main():
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    labels = torch.tensor([0, 1, 2, 3, 0])
    for step in range(3):
        probs = F.softmax(model(x), dim=1)
        target = probs.detach()
        target[torch.arange(5), labels] += 0.5
        loss = -(target * torch.log(probs)).sum(1).mean()
        print(f"step {step} loss {loss.item()!r}")
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
