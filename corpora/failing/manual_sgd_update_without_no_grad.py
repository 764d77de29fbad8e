# inplace-fix-expect: kind=leaf-modified modified=18 saved=- rule=IPF008 fixable=yes
# pattern: manual_sgd_update_without_no_grad
# A hand-written gradient-descent step updates the weight leaf in place with grad mode
# on; torch refuses in-place ops on a leaf that requires grad.
import torch

torch.manual_seed(0)
x = torch.cat([torch.randn(20, 3), torch.ones(20, 1)], dim=1)
true_w = torch.tensor([[1.0], [-2.0], [0.5], [0.3]])
y = x @ true_w + 0.01 * torch.randn(20, 1)
w = torch.zeros(4, 1, requires_grad=True)

for step in range(3):
    pred = x @ w
    loss = ((pred - y) ** 2).mean()
    print(f"step {step} loss {loss.item()!r}")
    loss.backward()
    w -= 0.1 * w.grad
    w.grad = None
