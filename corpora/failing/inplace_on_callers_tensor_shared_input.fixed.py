# inplace-fix-expect: kind=saved-tensor-modified modified=21 saved=22 rule=IPF001 fixable=yes fix=clone-saved@22
# pattern: inplace_on_callers_tensor_shared_input
# Each decoder adds its positional embedding to its input with `+=`, writing into the
# caller's `quant`, which both decoders share: decoder A's Linear saved it, decoder B
# overwrites it. The original forward is itself questionable (B sees pos_a + pos_b).
# The write-site rewrite (token = token + self.pos) changes decoder B's input, so its loss
# changes and the verifier rejects it; cloning the input where decoder A's Linear saves it
# keeps every value the script computes and verifies.
import torch
import torch.nn as nn
import torch.nn.functional as F


class PosDecoder(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(dim) * 0.1)
        self.fc = nn.Linear(dim, dim)

    def forward(self, token):
        token += self.pos
        return self.fc(token.clone())


class TwoDecoders(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.quant = nn.Linear(6, dim)
        self.dec_a = PosDecoder(dim)
        self.dec_b = PosDecoder(dim)

    def forward(self, x):
        quant = self.quant(x)
        return self.dec_a(quant), self.dec_b(quant)


def main():
    torch.manual_seed(0)
    model = TwoDecoders()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(5, 6)
    ya, yb = torch.randn(5, 8), torch.randn(5, 8)
    for step in range(3):
        a, b = model(x)
        loss = F.mse_loss(a, ya) + F.mse_loss(b, yb)
        print(f"step {step} loss {loss.item()!r}")
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
