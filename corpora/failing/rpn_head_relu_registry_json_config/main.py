# inplace-fix-expect: kind=saved-tensor-modified modified=rpn_head.py:26 saved=conv_module.py:16 rule=IPF004 fixable=yes
# pattern: double_inplace_relu_convmodule (extra: the head is built from config.json through a registry filled by importlib)
# Reproduces https://github.com/open-mmlab/mmdetection/issues/7933: with `num_convs=2` the RPN
# head's convs are ConvModules ending in a ReLU, and forward_single applies
# `F.relu(x, inplace=True)` to that ReLU's output, which its backward needs. The config is read
# with open(); its `custom_imports` are loaded with importlib.import_module, which is how the
# head's class reaches the registry that builds it.
import argparse
import json
import os

import torch
import torch.nn.functional as F

from registry import MODELS, import_modules_from_strings


def parse_args():
    parser = argparse.ArgumentParser(description='Train an RPN head from a config')
    parser.add_argument('config', nargs='?', default='config.json', help='config file, next to this script')
    return parser.parse_args()


def main():
    args = parse_args()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), args.config)) as f:
        cfg = json.load(f)
    import_modules_from_strings(cfg['custom_imports'])
    torch.manual_seed(0)
    head = MODELS.build(cfg['model']['rpn_head'])
    optimizer = torch.optim.SGD(head.parameters(), **cfg['optimizer'])
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4)]
    labels = [(f.mean(1, keepdim=True) > 0).float().expand(-1, 3, -1, -1) for f in feats]
    for it in range(cfg['max_iters']):
        optimizer.zero_grad()
        outs = head(feats)
        loss_cls = sum(F.binary_cross_entropy_with_logits(cls, lab) for (cls, _), lab in zip(outs, labels))
        loss_reg = sum(reg.abs().mean() for _, reg in outs)
        loss = loss_cls + 0.1 * loss_reg
        print(f"step {it} loss {loss.item()!r}")
        loss.backward()
        optimizer.step()


if __name__ == '__main__':
    main()
