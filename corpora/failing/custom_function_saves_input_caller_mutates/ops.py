import torch


class FeatureScale(torch.autograd.Function):
    """out = x * w, with a hand-written backward that needs the input x."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        return grad_out * w, (grad_out * x).sum(0)
