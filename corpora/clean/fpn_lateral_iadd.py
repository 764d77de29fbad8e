# inplace-fix-expect: clean
# pattern: fpn_lateral_iadd_on_conv_output
# FPN top-down pathway: `+=` on lateral conv outputs and `*=` on a fresh sum; conv and
# interpolate save their inputs, never their outputs, so nothing saved is modified.
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyFPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c3 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c4 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.lat3 = nn.Conv2d(8, 8, 1)
        self.lat4 = nn.Conv2d(8, 8, 1)
        self.out = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, img):
        f3 = F.relu(self.c3(img))
        f4 = F.relu(self.c4(f3))
        p4 = self.lat4(f4)
        p3 = self.lat3(f3)
        p3 += F.interpolate(p4, size=p3.shape[-2:], mode="nearest")
        fused = p3 + 0
        fused *= 0.5
        return self.out(fused)


def main():
    torch.manual_seed(0)
    model = TinyFPN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    img = torch.randn(2, 3, 16, 16)
    target = torch.rand(2, 1, 8, 8)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(img), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
