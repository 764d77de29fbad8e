# inplace-fix-expect: clean
# pattern: inplace_init_under_no_grad_and_integer_counters
# In-place initialisation of parameters under torch.no_grad() and nn.init, a buffer
# updated under no_grad after use, integer and float counters with `+=`.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.fc2 = nn.Linear(8, 2)
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        with torch.no_grad():
            self.fc1.weight.normal_(0, 0.1)
            self.fc1.bias.zero_()
            self.fc2.bias.fill_(0.01)
        nn.init.xavier_uniform_(self.fc2.weight)

    def forward(self, x):
        out = self.fc2(torch.relu(self.fc1(x)))
        with torch.no_grad():
            self.seen += x.shape[0]
        return out


def main():
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(6, 5)
    y = torch.randint(0, 2, (6,))
    total, n_steps = 0.0, 0
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()
        total += loss.item()
        n_steps += 1
    print(f"mean loss {total / n_steps:.4f} after {int(model.seen)} samples")


if __name__ == "__main__":
    main()
