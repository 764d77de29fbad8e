# inplace-fix-expect: kind=saved-tensor-modified modified=blocks.py:11 saved=blocks.py:11 rule=IPF001 fixable=yes
# pattern: prenorm_residual_iadd
# A pre-norm residual block (in blocks.py) updates the residual stream with `h += ...`;
# LayerNorm saved `h` as its input in the same statement, so backward fails.
import torch
import torch.nn.functional as F

from blocks import TinyEncoder


def main():
    torch.manual_seed(0)
    model = TinyEncoder(dim=8, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randn(4, 5, 6)
    labels = torch.randint(0, 3, (4,))
    for step in range(3):
        logits = model(tokens)
        loss = F.cross_entropy(logits, labels)
        print(f"step {step} loss {loss.item()!r}")
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
