# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=20 rule=IPF002 fixable=yes
# pattern: unsqueeze_inplace_on_softmax_attention_weights (extra: a metadata in-place op)
# Attention pooling turns its weights into a column with `weights.unsqueeze_(-1)` before
# the weighted sum. unsqueeze_ changes only the shape, yet it bumps the version counter
# of softmax's output, which softmax saved for backward.
import torch
import torch.nn as nn
import torch.nn.functional as F


class AttentionPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.score = nn.Linear(6, 1)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        # x: (batch, time, 6) -> one weight per time step
        logits = self.score(x).squeeze(-1)
        weights = torch.softmax(logits, dim=1)
        weights.unsqueeze_(-1)
        pooled = (weights * x).sum(1)
        return self.out(pooled)


def main():
    torch.manual_seed(0)
    model = AttentionPool()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(4, 7, 6)
    y = torch.randn(4, 3)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
