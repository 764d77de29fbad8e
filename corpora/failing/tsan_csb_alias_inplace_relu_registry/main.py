# inplace-fix-expect: kind=saved-tensor-modified modified=tsan.py:51 saved=tsan.py:85 rule=IPF006 fixable=yes fix=clone-saved@tsan.py:85
# inplace-fix-expect: kind=saved-tensor-modified modified=tsan.py:51 saved=tsan.py:18 rule=IPF006 fixable=yes fix=clone-saved@tsan.py:18
# pattern: inplace_on_callers_tensor_shared_input (extra: an in-place ReLU saved its result; the network is found through importlib from config.json)
# Reproduces https://github.com/Jee-King/TSAN/issues/3: CSB.forward writes four quadrants
# into `out = x`, its caller's `first_out`, the result of `nn.ReLU(inplace=True)` (tsan.py:85),
# which ReluBackward0 saved and which the dense layer's conv_1_1 saved as its input (tsan.py:18);
# TSAN.forward then reads `first_out` again. The thread's fix (`out = x.clone()`) changes that
# later read, so the loss changes and --apply rejects it. An in-place ReLU saves its result:
# cloning that result (not the ReLU's input, which the ReLU would write and save in its stead),
# together with a clone of the conv's input, keeps every value the script computes and verifies.
import argparse
import json
import os

import torch
import torch.nn.functional as F

from model import Model

parser = argparse.ArgumentParser(description='TSAN super-resolution')
parser.add_argument('--config', default='config.json', help='experiment config, next to this script')


def main():
    opt = parser.parse_args()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), opt.config)) as f:
        args = json.load(f)
    torch.manual_seed(0)
    model = Model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args['lr'])
    size, scale = args['patch_size'], args['scale'][0]
    for step in range(args['steps']):
        hr = torch.rand(args['batch_size'], args['n_colors'], size * scale, size * scale)
        lr = F.avg_pool2d(hr, scale)
        optimizer.zero_grad()
        sr = model(lr, 0)
        loss = F.l1_loss(sr, hr)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        optimizer.step()


if __name__ == '__main__':
    main()
