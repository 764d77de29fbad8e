"""Fused softmax cross entropy written as an autograd.Function (Megatron style)."""
import torch


class VocabCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, vocab_logits, target):
        vocab_logits = vocab_logits.float()
        logits_max = torch.max(vocab_logits, dim=-1)[0]
        vocab_logits = vocab_logits - logits_max.unsqueeze(dim=-1)
        predicted_logits = vocab_logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        exp_logits = vocab_logits
        torch.exp(vocab_logits, out=exp_logits)
        sum_exp_logits = exp_logits.sum(dim=-1)
        loss = torch.log(sum_exp_logits) - predicted_logits
        exp_logits.div_(sum_exp_logits.unsqueeze(dim=-1))
        ctx.save_for_backward(exp_logits, target)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        softmax, target = ctx.saved_tensors
        grad_input = softmax.clone()
        grad_input.scatter_add_(-1, target.unsqueeze(-1), -torch.ones_like(target, dtype=softmax.dtype).unsqueeze(-1))
        return grad_input * grad_output.unsqueeze(-1), None


def vocab_cross_entropy(logits, target):
    return VocabCrossEntropy.apply(logits, target)
