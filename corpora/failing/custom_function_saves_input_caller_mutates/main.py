# inplace-fix-expect: kind=saved-tensor-modified modified=model.py:17 saved=model.py:16 rule=IPF002 fixable=yes
# pattern: custom_function_saves_input_caller_mutates
# A custom autograd.Function (ops.py) saves its input with ctx.save_for_backward; the
# caller (model.py) then applies relu_() to that same input tensor.
import torch
import torch.nn.functional as F

from model import SplatNet


def main():
    torch.manual_seed(0)
    net = SplatNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(6, 5)
    y = torch.randn(6, 1)
    for step in range(3):
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
