# inplace-fix-expect: kind=view-modified modified=21 saved=- view=20 rule=IPF002 fixable=no
# pattern: view_created_in_no_grad_modified_with_grad
# A view of the features is taken under no_grad (to "just pick the first modality"),
# then masked in place with grad mode back on.
# why: two legal rewrites (take the view outside no_grad, or do the in-place op inside no_grad) give the same forward but different gradients; the author must choose
import torch
import torch.nn as nn
import torch.nn.functional as F


class ModalityDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(6, 8)
        self.dec = nn.Linear(8, 2)

    def forward(self, x, mask):
        feats = self.enc(x)
        with torch.no_grad():
            head = feats[:, :4]
        head.mul_(mask)
        return self.dec(feats)


def main():
    torch.manual_seed(0)
    model = ModalityDropout()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    mask = (torch.rand(5, 1) > 0.5).float()
    y = torch.randn(5, 2)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x, mask), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
