# inplace-fix-expect: kind=saved-tensor-modified modified=17 saved=16 rule=IPF002 fixable=yes
# pattern: clamp_inplace_on_softmax_probs
# Probabilities are clamped away from zero in place before taking the log; softmax's
# backward needs the probabilities it returned.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        probs = F.softmax(self.fc(x), dim=-1)
        probs.clamp_(min=1e-6)
        return torch.log(probs)


def main():
    torch.manual_seed(0)
    model = Classifier()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.randn(6, 5)
    y = torch.randint(0, 4, (6,))
    for step in range(3):
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
