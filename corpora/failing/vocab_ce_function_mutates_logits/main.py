# inplace-fix-expect: kind=saved-tensor-modified modified=cross_entropy.py:10 saved=26 rule=IPF001 fixable=yes
# pattern: autograd.Function forward mutates its input that the caller's graph saved (extra: new row)
# https://github.com/NVIDIA/Megatron-LM/pull/1594: a fused cross entropy subtracts the max from its input in place (`.float()` is a no-op
# on float32); the caller's z-loss logsumexp saved those logits.
import argparse

import torch
import torch.nn as nn

from cross_entropy import vocab_cross_entropy


class TinyLM(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        return self.lm_head(torch.tanh(self.mix(self.embed(tokens))))


def build_loss(z_loss_weight):
    def loss_fn(logits, labels):
        z_loss = torch.logsumexp(logits, dim=-1).pow(2).mean()
        ce = vocab_cross_entropy(logits, labels).mean()
        return ce + z_loss_weight * z_loss
    return loss_fn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--z-loss", type=float, default=1e-2)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = TinyLM(11, 8)
    loss_fn = build_loss(args.z_loss)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tokens = torch.randint(0, 11, (3, 6))
    for step in range(args.steps):
        opt.zero_grad()
        logits = model(tokens[:, :-1])
        loss = loss_fn(logits, tokens[:, 1:])
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
