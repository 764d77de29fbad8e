# inplace-fix-expect: clean
# pattern: tutorial_y_equals_x_times_2_iadd
# The tutorial example `y = x * 2; y += 1`: multiplying by a Python scalar saves
# nothing, so the in-place add is harmless (many pages claim it fails).
import torch

torch.manual_seed(0)
x = torch.randn(5, requires_grad=True)
opt = torch.optim.SGD([x], lr=0.1)
for step in range(3):
    opt.zero_grad()
    y = x * 2
    y += 1
    y *= 3
    loss = y.pow(2).mean()
    print(f"step {step} loss {loss.item()!r}")
    loss.backward()
    opt.step()
